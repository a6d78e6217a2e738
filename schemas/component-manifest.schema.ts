/**
 * The component manifest: a component's `package/package.json` (DESIGN.md §4.1). The npm top
 * level admits the usual descriptive npm fields (bounded) and registry bookkeeping keys
 * (`_id`, `_resolved`, …); it never admits `scripts`, `bin` or other install-time behaviour.
 * `rump` and all its sub-objects are closed.
 */
import * as d from './common.js';
import { TARGET_PATTERN } from './patterns.js';

const person = {
  description: 'A person: `Name <mail> (url)` or an object.',
  anyOf: [
    { type: 'string', maxLength: 512 },
    {
      type: 'object',
      additionalProperties: false,
      properties: {
        name: { type: 'string', maxLength: 256, description: 'Name.' },
        email: { type: 'string', maxLength: 256, description: 'E-mail address.' },
        url: { type: 'string', maxLength: 1024, description: 'Home page.' },
      },
    },
  ],
} as const;

const targetEntry = {
  type: 'object',
  description: 'What a component ships for one target. Paths are relative to the package root.',
  additionalProperties: false,
  required: ['archive'],
  properties: {
    archive: { $ref: '#/$defs/relativePath', description: 'The static archive, e.g. `lib/posix-x86_64/librumpnet_netinet.a`.' },
    symbols: { $ref: '#/$defs/symbolEvidence', description: 'Symbol evidence for audit.' },
    objects: {
      type: 'array',
      description: 'Extra objects linked before everything (platform packages: boot code, crt).',
      items: { $ref: '#/$defs/relativePath' },
      maxItems: 64,
    },
    linkerScript: { $ref: '#/$defs/relativePath', description: 'A linker script (platform packages on freestanding targets).' },
    ldflags: {
      type: 'array',
      description: 'Extra linker arguments the archive needs: `-lNAME`, `-pthread`, `-Wl,--as-needed`, `-Wl,--no-as-needed`.',
      items: { type: 'string', pattern: '^-(l[A-Za-z0-9_+.-]+|pthread|Wl,--(no-)?as-needed)$' },
      maxItems: 64,
    },
    abiFlags: {
      type: 'array',
      description: 'ABI-relevant compiler flags the archive was built with (`-fcommon`, `-mno-red-zone`, …).',
      items: { type: 'string', pattern: '^-[fm][a-z0-9][a-z0-9=_.,-]*$', maxLength: 64 },
      maxItems: 64,
    },
    include: { $ref: '#/$defs/relativePath', description: 'A directory of headers applications compile against (`-isystem`), e.g. `include` holding `rump/rump.h`.' },
  },
} as const;

const rump = {
  type: 'object',
  description: 'The rump kernel component metadata.',
  additionalProperties: false,
  required: ['schemaVersion', 'lib', 'faction', 'targets'],
  properties: {
    schemaVersion: { const: 1, description: 'Version of the `rump` object format (1).' },
    kind: { $ref: '#/$defs/kind', description: '`component` (default) or `platform`.' },
    lib: { $ref: '#/$defs/lib', description: 'NetBSD library name, e.g. `librumpnet_netinet`.' },
    aliases: {
      type: 'array',
      description: 'Other names that find this component (NetBSD library names, short words). Default [].',
      items: { $ref: '#/$defs/name' },
      maxItems: 64,
    },
    faction: {
      type: 'string',
      pattern: '^[a-z][a-z0-9_-]*$',
      maxLength: 32,
      description: 'Rump faction: `base`, `kern`, `dev`, `net`, `vfs`, `hypercall`, …',
    },
    initLevels: {
      type: 'array',
      description: 'Init levels of its `struct rump_component`s. Default [].',
      items: { $ref: '#/$defs/initLevel' },
      uniqueItems: true,
      maxItems: 14,
    },
    requires: {
      type: 'array',
      description: 'Capabilities it needs some component to provide. Default [].',
      items: { $ref: '#/$defs/capability' },
      maxItems: 256,
    },
    providers: {
      type: 'object',
      description:
        'The known providers of the capabilities it requires (Debian `a | b` alternatives): capability → component names. ' +
        'The resolver reads them from registry metadata, so a registry whose search does not index keywords can resolve the capability; ' +
        'search still finds providers published later. Every key is listed in `requires`. Default {}.',
      propertyNames: { $ref: '#/$defs/capability' },
      additionalProperties: {
        type: 'array',
        description: 'Component names that provide the capability (at least one).',
        items: { $ref: '#/$defs/name' },
        minItems: 1,
        maxItems: 64,
      },
      maxProperties: 256,
    },
    provides: {
      type: 'array',
      description: 'Capabilities it provides. Default [].',
      items: { $ref: '#/$defs/capability' },
      maxItems: 256,
    },
    conflicts: {
      type: 'array',
      description: 'Component names this one can never be linked with. Default [].',
      items: { $ref: '#/$defs/name' },
      maxItems: 256,
    },
    anyOf: {
      type: 'array',
      description:
        'Any-of requirements: in each group, at least one of the named components must be in the closure (any version of it ' +
        'that ships the target), e.g. `[["@rump/net-net", "@rump/sockin"]]`. Default [].',
      items: {
        type: 'array',
        description: 'One group: at least two component names, one of which must be in the closure.',
        items: { $ref: '#/$defs/name' },
        minItems: 2,
        maxItems: 64,
      },
      maxItems: 64,
    },
    optionalDependencies: { $ref: '#/$defs/dependencyMap', description: 'Edges recorded but not pulled in. Default {}.' },
    targets: {
      type: 'object',
      description: 'Target → what the component ships for it (only the targets it really ships).',
      propertyNames: { type: 'string', pattern: TARGET_PATTERN, description: 'A target `<platform>-<arch>`, e.g. `posix-x86_64`.' },
      additionalProperties: { $ref: '#/$defs/targetEntry' },
      minProperties: 1,
    },
    upstream: { $ref: '#/$defs/upstream', description: 'Upstream provenance.' },
  },
} as const;

export const componentManifestSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'urn:rumpkg:schema:component-manifest:1',
  title: 'rumpkg component manifest',
  description: "A rump kernel component's package.json: npm fields plus a closed `rump` object.",
  type: 'object',
  required: ['name', 'version', 'license', 'rump'],
  maxProperties: 64,
  additionalProperties: false,
  patternProperties: {
    '^_[A-Za-z][A-Za-z0-9]*$': { description: 'Registry bookkeeping (`_id`, `_resolved`, `_integrity`, …); ignored.' },
  },
  properties: {
    name: { $ref: '#/$defs/name', description: 'Registry name, e.g. `@rump/tcpip`.' },
    version: { $ref: '#/$defs/version', description: 'Exact semver version.' },
    license: { $ref: '#/$defs/license', description: 'SPDX licence expression.' },
    description: { type: 'string', maxLength: 1024, description: 'One line saying what the component is.' },
    dependencies: { $ref: '#/$defs/dependencyMap', description: 'Hard dependencies: name → semver range. Default {}.' },
    keywords: {
      type: 'array',
      description: 'Search keywords.',
      items: { type: 'string', maxLength: 64 },
      maxItems: 64,
    },
    homepage: { type: 'string', maxLength: 1024, description: 'Home page URL.' },
    repository: {
      description: 'Source repository: a string or `{type, url, directory}`.',
      anyOf: [
        { type: 'string', maxLength: 1024 },
        {
          type: 'object',
          additionalProperties: false,
          properties: {
            type: { type: 'string', maxLength: 32, description: 'VCS type, e.g. `git`.' },
            url: { type: 'string', maxLength: 1024, description: 'Repository URL.' },
            directory: { type: 'string', maxLength: 1024, description: 'Sub-directory of the package.' },
          },
        },
      ],
    },
    bugs: {
      description: 'Where to report issues: a URL or `{url, email}`.',
      anyOf: [
        { type: 'string', maxLength: 1024 },
        {
          type: 'object',
          additionalProperties: false,
          properties: {
            url: { type: 'string', maxLength: 1024, description: 'Issue tracker URL.' },
            email: { type: 'string', maxLength: 256, description: 'Contact address.' },
          },
        },
      ],
    },
    author: person,
    contributors: { type: 'array', description: 'Contributors.', items: person, maxItems: 256 },
    maintainers: { type: 'array', description: 'Maintainers (registry metadata).', items: person, maxItems: 256 },
    deprecated: { type: 'string', maxLength: 1024, description: 'Deprecation message set by the registry.' },
    dist: {
      type: 'object',
      description: 'Registry distribution metadata (tarball URL, integrity).',
      additionalProperties: false,
      properties: {
        tarball: { type: 'string', maxLength: 2048, description: 'Tarball URL.' },
        integrity: { type: 'string', maxLength: 256, description: 'SRI integrity of the tarball.' },
        shasum: { type: 'string', maxLength: 64, description: 'Legacy sha1 hex (never trusted alone).' },
        fileCount: { type: 'integer', minimum: 0, description: 'Number of files.' },
        unpackedSize: { type: 'integer', minimum: 0, description: 'Bytes unpacked.' },
      },
    },
    files: {
      type: 'array',
      description: 'Files to include when packing (informational).',
      items: { type: 'string', maxLength: 1024 },
      maxItems: 1024,
    },
    gitHead: { type: 'string', maxLength: 64, description: 'Commit the package was packed from.' },
    readme: { type: 'string', maxLength: 65536, description: 'README text (registry metadata).' },
    readmeFilename: { type: 'string', maxLength: 256, description: 'README file name.' },
    rump: { $ref: '#/$defs/rump', description: 'Rump kernel component metadata.' },
  },
  $defs: {
    name: d.name,
    version: d.version,
    range: d.range,
    dependencyMap: d.dependencyMap,
    capability: d.capability,
    initLevel: d.initLevel,
    relativePath: d.relativePath,
    lib: d.lib,
    kind: d.kind,
    license: d.license,
    symbolEvidence: d.symbolEvidence,
    upstream: d.upstream,
    targetEntry,
    rump,
  },
} as const;
