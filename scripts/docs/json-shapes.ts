/**
 * The shape of every `--json` document rumpkg prints (JSON Schema 2020-12, one `$defs` entry per
 * shape). docs/json-output.md and docs/json-output.schema.json are generated from this table
 * (scripts/docs/generate.ts), and test/docs/json-output.test.ts runs every command with `--json`
 * and validates what it prints against it. Top-level objects are closed: a new key must be
 * documented here first. Documents rumpkg also reads (manifests, lockfile) are referenced by
 * their own schemas (schemas/).
 */

type Schema = Record<string, unknown>;

const str = (description?: string): Schema => ({ type: 'string', ...(description === undefined ? {} : { description }) });
const num = (description?: string): Schema => ({ type: 'integer', ...(description === undefined ? {} : { description }) });
const bool = (description?: string): Schema => ({ type: 'boolean', ...(description === undefined ? {} : { description }) });
const arr = (items: Schema, description?: string): Schema => ({ type: 'array', items, ...(description === undefined ? {} : { description }) });
const map = (values: Schema, description?: string): Schema => ({ type: 'object', additionalProperties: values, ...(description === undefined ? {} : { description }) });
const nullable = (s: Schema): Schema => ({ ...s, type: [s.type as string, 'null'] });
const ref = (kind: string, description: string): Schema => ({ $ref: `urn:rumpkg:schema:${kind}:1`, description });
const anyJson = (description: string): Schema => ({ description });

/** An object with exactly these properties; all required unless listed in `optional`. */
function obj(properties: Record<string, Schema>, options: { optional?: string[]; open?: boolean; description?: string } = {}): Schema {
  const optional = new Set(options.optional ?? []);
  return {
    type: 'object',
    ...(options.description === undefined ? {} : { description: options.description }),
    properties,
    required: Object.keys(properties).filter((k) => !optional.has(k)),
    additionalProperties: options.open === true,
  };
}

const problem = obj({
  file: str('the file as named'),
  pointer: str('JSON pointer to the offending value'),
  message: str(),
  expected: str('what would have been accepted there'),
  stage: { enum: ['parse', 'schema', 'semantic'], description: 'which check found it' },
});

const rumpkgError = obj(
  {
    code: str('stable error code, e.g. E_NOT_FOUND (the list is in components/model/errors.ts)'),
    message: str('what went wrong, naming the component and path'),
    hint: str('what to do about it'),
    context: { type: 'object', description: 'structured details: component, path, url, suggestions, … (never tokens)' },
  },
  { optional: ['hint', 'context'] },
);

const projectResult = obj({
  project: str('rumpkg.json name'),
  targets: arr(str(), 'targets of the project'),
  components: map(str(), 'the requested components: name → range (rumpkg.json components)'),
  targetComponents: map(map(str()), 'target → name → range: requests for one target only (rumpkg.json targetComponents)'),
  lockWritten: bool('whether rumpkg.lock was (re)written'),
  changes: arr(obj({ target: str(), name: str(), from: str('version before'), to: str('version after') }, { optional: ['from', 'to'] }), 'what changed in the lockfile, per target'),
  fetched: num('locked components now in the store'),
  notes: arr(str(), 'notes (aliases used, targets added, …)'),
  closures: map(
    obj({
      platform: nullable(str('the platform package (hypercall provider)')),
      components: map(str(), 'name → locked version'),
      linkOrder: arr(str(), 'link order of the image'),
      initOrder: arr(obj({ level: str(), component: str(), lib: str() }), 'init levels in the real rump run order'),
    }),
    'target → the locked closure',
  ),
});

const doctorTool = obj({ role: str('cc, ld, objcopy or emulator'), command: str(), path: nullable(str('where it was found; null = missing')), debianPackage: str() });

const configDoc = obj({
  configVersion: { const: 1 },
  defaultScope: str('the scope bare names map to'),
  registries: map(str(), 'scope → registry URL'),
});

const auditComponent = obj({
  name: str(),
  version: nullable(str('claimed, locked, or the one version whose fingerprint matched')),
  candidates: arr(str(), 'versions whose fingerprints match equally'),
  license: str('SPDX expression'),
  lib: str('NetBSD library name'),
  kind: str('component or platform'),
  upstream: nullable({ type: 'object', description: 'upstream provenance (rump.upstream)' }),
  integrity: nullable(str('SRI of the component tarball')),
  evidence: { enum: ['confirmed', 'modified', 'claimed-but-absent', 'present-but-unclaimed', 'unverified', 'locked'], description: 'what the bytes say' },
  claimed: bool('the image manifest (or lockfile) names it'),
  symbols: obj({ checked: bool(), expected: nullable(num()), found: num(), missing: arr(str(), 'up to 20 fingerprint symbols not found') }),
  linkSet: obj({ expected: arr(str()), found: arr(str()) }, { description: 'init levels expected and registrations found (constructors or link-set entries)' }),
  content: obj(
    {
      members: obj({ present: num(), absent: num(), modified: num(), unverifiable: num() }, { description: 'archive members matched by content (masked per-symbol hashes)' }),
      modifiedMembers: arr(str()),
    },
    { description: 'present when the archive content was compared' },
  ),
  reasons: arr(str(), 'why the evidence is what it is'),
}, { optional: ['content'] });

/** `part`: a piece other shapes refer to, not printed on its own. */
export const JSON_SHAPES: Record<string, { commands: string; description: string; schema: Schema; part?: true }> = {
  error: {
    commands: 'any command that fails with a typed error (exit 1, 2 or 3)',
    description: 'With `--json`, a failure is this document on stdout instead of the message on stderr.',
    schema: obj({ error: rumpkgError }),
  },
  validate: {
    commands: 'validate FILE',
    description: 'The document kind, whether it is valid, and every problem. Exit 1 when invalid.',
    schema: obj(
      {
        file: str(),
        kind: { enum: ['component-manifest', 'project-manifest', 'lockfile', 'image-manifest'] },
        valid: bool(),
        problems: arr(problem),
        error: obj({ code: str(), message: str() }, { description: 'present when invalid' }),
      },
      { optional: ['error'] },
    ),
  },
  pack: { commands: 'pack DIR', description: 'The reproducible tarball written.', schema: obj({ file: str(), integrity: str('sha512 SRI'), size: num('bytes') }) },
  inspect: {
    commands: 'inspect FILE.tgz',
    description: 'A tarball, fully validated: its summary, its files and its manifest.',
    schema: obj(
      {
        file: str(),
        integrity: str(),
        size: num(),
        name: str(),
        version: str(),
        kind: str(),
        lib: str(),
        license: str(),
        description: str(),
        targets: arr(str()),
        dependencies: map(str()),
        requires: arr(str()),
        provides: arr(str()),
        conflicts: arr(str()),
        files: arr(obj({ path: str(), size: num(), mode: num(), type: str() })),
        extracted: str('where --extract DIR unpacked it'),
        manifest: ref('component-manifest', 'the package.json inside (docs/component-manifest.md)'),
      },
      { optional: ['extracted'] },
    ),
  },
  publish: {
    commands: 'publish DIR... | FILE.tgz...',
    description: 'What was published (a failure is the error document, with `context.published` and `context.failed`).',
    schema: obj({
      published: arr(obj({ path: str(), name: str(), version: str(), integrity: str(), tag: str('dist-tag set') })),
      failed: arr(obj({ path: str() }, { open: true })),
    }),
  },
  yank: { commands: 'yank NAME@VERSION [--undo]', description: 'The version and its new state.', schema: obj({ name: str(), version: str(), yanked: bool() }) },
  info: {
    commands: 'info NAME[@RANGE]',
    description: "A component's versions and, for the newest version matching RANGE that is not yanked, its metadata.",
    schema: obj({
      name: str(),
      latest: nullable(str('the newest version that is not yanked')),
      distTags: map(str(), 'the registry dist-tags, as published'),
      versions: arr(obj({ version: str(), yanked: bool(), deprecated: str(), integrity: str() }, { optional: ['deprecated'] }), 'oldest first'),
      selected: obj({
        version: str(),
        description: str(),
        license: str(),
        lib: str(),
        kind: str(),
        aliases: arr(str()),
        targets: arr(str()),
        dependencies: map(str()),
        optionalDependencies: map(str()),
        requires: arr(str()),
        provides: arr(str()),
        conflicts: arr(str()),
        integrity: str(),
        tarball: str('registry-relative tarball location'),
        yanked: bool(),
      }),
    }),
  },
  search: {
    commands: 'search WORDS...',
    description: 'Hits of the registries, best first, one per component.',
    schema: obj({
      results: arr(
        obj(
          { name: str(), version: str(), description: str(), keywords: arr(str()), aliases: arr(str()), lib: str(), score: { type: 'number' }, registry: str('the scope whose registry answered') },
          { optional: ['lib'] },
        ),
      ),
    }),
  },
  login: { commands: 'login --registry URL', description: 'The token is stored (never printed).', schema: obj({ registry: str(), stored: { const: true }, username: str('from GET /-/whoami (absent with --no-verify)') }, { optional: ['username'] }) },
  whoami: { commands: 'whoami [--registry URL]', description: 'Who the stored token belongs to.', schema: obj({ registry: str(), username: str() }) },
  logout: { commands: 'logout [--registry URL]', description: 'Whether a token was removed.', schema: obj({ registry: str(), removed: bool() }) },
  config: { commands: 'config list, config delete KEY', description: 'The whole `$RUMPKG_HOME/config.json` (defaults filled in).', schema: configDoc },
  'config-value': { commands: 'config get KEY, config set KEY VALUE', description: 'One key and its (normalised) value.', schema: obj({ key: str(), value: str() }) },
  'registry-serve': { commands: 'registry serve [DIR]', description: 'First document: where the server listens. Then one `registry-serve-event` line per request.', schema: obj({ url: str(), dir: str() }) },
  'registry-serve-event': {
    commands: 'registry serve [DIR] (one JSON object per line)',
    description: 'One request: never the token or the query string.',
    schema: obj(
      { type: { const: 'request' }, method: str(), path: str(), status: num(), ms: num(), user: str('the token owner'), code: str('error code'), message: str() },
      { optional: ['user', 'code', 'message'] },
    ),
  },
  'registry-token-add': { commands: 'registry token add NAME', description: 'The new token (shown once; the registry keeps its sha256).', schema: obj({ user: str(), token: str(), dir: str() }) },
  'registry-token-revoke': { commands: 'registry token revoke NAME', description: 'How many tokens were revoked.', schema: obj({ user: str(), revoked: num() }) },
  'registry-token-list': { commands: 'registry token list', description: 'Users with live tokens (never the tokens).', schema: arr(obj({ user: str(), tokens: num() })) },
  doctor: {
    commands: 'doctor',
    description: 'What is ready per target and what to install (exit 1 unless `ready`).',
    schema: obj({
      ready: bool(),
      node: str('the Node.js version'),
      home: obj({ path: str(), ok: bool(), detail: str() }),
      registries: arr(obj({ scope: str(), url: str(), ok: bool(), detail: str() })),
      targets: arr(
        obj(
          { target: str(), ready: bool(), tools: arr(doctorTool), runs: { enum: ['host', 'emulator', 'not supported'] }, problem: str(), missingPackages: arr(str()) },
          { optional: ['problem'] },
        ),
      ),
      missingPackages: arr(str(), 'Debian packages of every missing tool'),
      install: nullable(str('the apt-get command that installs them')),
    }),
  },
  'new-component': {
    commands: 'new component NAME',
    description: 'The component directory written.',
    schema: obj({ dir: str(), name: str(), lib: str(), targets: arr(str()), files: arr(str('relative to dir')) }),
  },
  init: { commands: 'init', description: 'The rumpkg.json written (docs/rumpkg-json.md).', schema: ref('project-manifest', 'rumpkg.json') },
  'project-result': { commands: 'add, remove, install, update', description: 'The project after the command: requested components, lockfile changes, closures.', schema: projectResult },
  outdated: {
    commands: 'outdated',
    description: 'Locked components with newer versions: `wanted` fits the requested range, `latest` is the newest.',
    schema: arr(obj({ name: str(), target: str(), current: str(), wanted: str(), latest: str(), range: str('the requested range') })),
  },
  tree: {
    commands: 'tree [--target T]',
    description: 'target → the locked dependency tree (`via`: why each edge exists).',
    schema: map(arr({ $ref: '#/$defs/tree-node' })),
  },
  'tree-node': {
    part: true,
    commands: 'tree (each node)',
    description: 'One node of a tree.',
    schema: obj({ name: str(), version: str(), via: str('dependency, capability …'), deduped: bool('shown above already'), children: arr({ $ref: '#/$defs/tree-node' }) }, { optional: ['deduped'] }),
  },
  why: {
    commands: 'why NAME',
    description: 'target → every chain from the project to the component, and what the chains do not say (target-only requests, which any-of member was chosen and why).',
    schema: obj({
      component: str(),
      chains: map(arr(arr(str()))),
      reasons: map(arr(str())),
      platforms: map(
        nullable(
          obj({
            name: str('the platform package of the target'),
            version: str(),
            convention: { enum: ['rumprun', 'glue', null], description: 'how it makes images: rumprun (real drivers on rumprun) or rumpkg glue; null when not in the store' },
            description: nullable(str()),
          }),
        ),
      ),
    }),
  },
  graph: {
    commands: 'graph [--format json]',
    description: 'The closure of each target as nodes and edges, and where it came from.',
    schema: obj({
      graphVersion: { const: 1 },
      project: str(),
      graphs: arr(
        obj(
          {
            target: str(),
            project: str(),
            outcome: str('resolved, or why not'),
            nodes: arr(obj({ id: str(), label: str(), kind: str() }, { open: true })),
            edges: arr(obj({ from: str(), to: str(), kind: str() }, { open: true })),
          },
          { open: true },
        ),
      ),
      sources: map(str(), 'target → lockfile or resolution'),
    }),
  },
  'build-plan': {
    commands: 'build --dry-run',
    description: 'The link plan (an array of plans for several targets): tools, files, inputs in link order, flags and steps.',
    schema: {
      oneOf: [
        { $ref: '#/$defs/build-plan-one' },
        { type: 'array', items: { $ref: '#/$defs/build-plan-one' } },
      ],
    },
  },
  'build-plan-one': {
    part: true,
    commands: 'build --dry-run (each plan)',
    description: "One target's plan.",
    schema: obj(
      {
        planVersion: { const: 1 },
        target: str(),
        toolchain: obj({ id: str(), libc: str(), tools: map(arr(str())) }),
        files: arr(obj({ path: str(), role: str() }, { open: true })),
        inputs: arr(obj({ path: str(), role: str(), wholeArchive: bool() }, { open: true })),
        flags: obj({ cflags: arr(str()), ldflags: arr(str()), platformLdflags: arr(str()) }),
        steps: arr(obj({ tool: str(), command: arr(str()), args: arr(str()), cwd: str(), description: str() })),
        output: str(),
        map: str('the linker map'),
        destination: str('the image path'),
        entries: arr(obj({ object: str(), symbol: str() })),
        linkerScript: str(),
      },
      { optional: ['linkerScript'] },
    ),
  },
  build: { commands: 'build', description: 'One entry per target built.', schema: arr(obj({ target: str(), image: str(), upToDate: bool(), sha256: str(), bytes: num() })) },
  run: {
    commands: 'run',
    description: "The image's exit, output and (hw) boot timings.",
    schema: obj(
      { target: str(), image: str(), status: nullable(num()), signal: nullable(str()), timedOut: bool(), stdout: str(), stderr: str(), timings: { type: 'object', description: 'hw: milliseconds to boot, to the platform line, to power-off' } },
      { optional: ['timings'] },
    ),
  },
  size: {
    commands: 'size IMAGE',
    description: 'Bytes of the image per component (text, data, bss), from the linker map.',
    schema: obj({
      image: str(),
      target: str(),
      fileBytes: num(),
      allocBytes: num(),
      rows: arr(obj({ owner: str(), kind: str(), text: num(), data: num(), bss: num(), total: num() })),
      unattributed: num(),
    }),
  },
  audit: {
    commands: 'audit [IMAGE]',
    description: 'What is in the image (or the lockfile), checked against its bytes; `verdict.error` is set when the policy fails (exit 3).',
    schema: obj({
      auditVersion: { const: 1 },
      kind: { enum: ['image', 'lockfile'] },
      image: nullable(
        obj({
          path: str(),
          sha256: str(),
          bytes: num(),
          machine: str(),
          class: { enum: [32, 64] },
          endian: { enum: ['le', 'be'] },
          symbolTable: nullable(str()),
          definedSymbols: num(),
          linkSetEntries: nullable(num()),
        }),
      ),
      manifest: { enum: ['embedded', 'missing', 'lockfile'] },
      target: nullable(str()),
      project: nullable(str()),
      tool: nullable(str('the rumpkg that built the image')),
      components: arr(auditComponent),
      unattributedLinkSet: arr(obj({ level: nullable(str()), rcName: nullable(str()) })),
      licenses: obj({
        summary: arr(obj({ license: str(), components: arr(str()), notice: str() }, { optional: ['notice'] })),
        findings: arr({ type: 'object', description: 'a component whose licence --deny refuses' }),
        deny: arr(str()),
      }),
      advisories: arr(
        obj({ id: str(), component: str(), version: str(), severity: str(), summary: str(), aliases: arr(str()), fixed: str(), references: arr(str()) }, { optional: ['fixed'] }),
      ),
      notes: arr(str()),
      verdict: obj({ pass: bool(), error: rumpkgError }, { optional: ['error'] }),
    }),
  },
  verify: { commands: 'verify', description: 'The store re-hashed (damage is the error document).', schema: obj({ checked: num(), problems: arr({ type: 'object' }) }) },
  'verify-upstream': {
    commands: 'verify --upstream [NAME...]',
    description: 'Per component: the recorded upstream files compared with upstream at the recorded ref, or why it was skipped.',
    schema: obj({
      results: arr(
        obj(
          {
            name: str(),
            version: str(),
            skipped: str('why it was not checked'),
            dir: str(),
            ok: bool(),
            path: str(),
            ref: str(),
            commit: str(),
            recordedCommit: str(),
            commitChanged: bool(),
            files: num(),
            modified: arr(obj({ path: str(), recorded: str(), upstream: str() })),
            missing: arr(str()),
            added: arr({ type: 'object' }),
          },
          { optional: ['skipped', 'dir', 'ok', 'path', 'ref', 'commit', 'recordedCommit', 'commitChanged', 'files', 'modified', 'missing', 'added'] },
        ),
      ),
    }),
  },
  'cache-ls': {
    commands: 'cache ls',
    description: 'Downloads (HTTP registries) and unpacked components.',
    schema: obj({
      home: str(),
      http: arr(obj({ url: str(), size: num() }, { open: true })),
      store: arr(obj({ name: str(), version: str(), integrity: str(), path: str(), files: num() })),
    }),
  },
  'cache-verify': {
    commands: 'cache verify',
    description: 'Every cache entry re-hashed; damaged ones evicted (exit 1 when any was).',
    schema: obj({
      http: obj({ verifiedContent: num(), badContentCount: num(), reclaimedCount: num(), missingContent: num() }),
      store: obj({ checked: num(), problems: arr({ type: 'object' }) }),
    }),
  },
  'cache-clean': { commands: 'cache clean', description: 'What was removed.', schema: obj({ removed: arr(str()) }) },
  'import-archives': {
    commands: 'import archives DIR --target T --version V',
    description: 'The component directories written from real archives, with the symbol analysis behind their dependencies.',
    schema: obj({
      target: str(),
      version: str(),
      out: str(),
      dryRun: bool(),
      components: arr(
        obj(
          {
            name: str(),
            version: str(),
            lib: str(),
            known: bool('the catalog knows the library'),
            merged: bool('merged into an existing directory'),
            dir: str(),
            dependencies: map(str()),
            optionalDependencies: map(str()),
            symbols: anyJson('the symbol evidence recorded in the manifest'),
          },
          { optional: ['symbols'] },
        ),
      ),
      findings: arr({ type: 'object' }),
      skipped: arr({ type: 'object' }),
      warnings: arr({}),
      analysis: { type: 'object', description: 'per archive: hard, optional and any-of dependencies proven by symbols' },
    }),
  },
};

/** The shapes as one JSON Schema document (docs/json-output.schema.json). */
export function jsonShapesSchema(): Schema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'urn:rumpkg:schema:json-output:1',
    title: 'rumpkg --json outputs',
    description: 'One $defs entry per output shape; see docs/json-output.md for which command prints which.',
    $defs: Object.fromEntries(Object.entries(JSON_SHAPES).map(([k, v]) => [k, { description: v.description, ...v.schema }])),
  };
}
