/**
 * The generated parts of docs/: `docs/commands.md` from the commander tree (cli createProgram),
 * the field tables of the four documents from their JSON Schemas (schemas/), and
 * `docs/json-output.md` + `docs/json-output.schema.json` from the --json shapes (json-shapes.ts).
 * `generatedDocs()` returns path → text; test/docs/docs.test.ts fails when a committed file
 * differs and rewrites them with `npm run docs` (UPDATE_DOCS=1). Hand-written pages (registry
 * protocol, publishing NetBSD drivers) are not generated; their facts are checked by that test.
 */
import type { Command, Option } from 'commander';
import { createProgram } from '../../cli/main.js';
import { SCHEMAS, type DocumentKind } from '../../schemas/index.js';
import { JSON_SHAPES, jsonShapesSchema } from './json-shapes.js';

type Schema = Record<string, unknown>;

const GENERATED = (source: string): string => `<!-- Generated from ${source} by \`npm run docs\`; edit the source, not this file. -->`;

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

// ---------------------------------------------------------------------------------------------
// commands

function optionRow(o: Option): string[] {
  const dflt = o.defaultValue === undefined || o.negate ? '' : ` (default: \`${Array.isArray(o.defaultValue) ? o.defaultValue.join(' ') : String(o.defaultValue)}\`)`;
  return [`\`${o.flags}\``, cell(`${o.description ?? ''}${o.mandatory ? ' (required)' : ''}${dflt}`)];
}

function usage(cmd: Command, path: string[]): string {
  const args = cmd.registeredArguments.map((a) => {
    const n = `${a.name()}${a.variadic ? '...' : ''}`;
    return a.required ? `<${n}>` : `[${n}]`;
  });
  return ['rumpkg', ...path, ...(cmd.options.length > 0 ? ['[options]'] : []), ...args].join(' ');
}

function commandSection(cmd: Command, path: string[], out: string[]): void {
  const full = [...path, cmd.name()];
  if (cmd.commands.length > 0 && cmd.registeredArguments.length === 0 && cmd.options.length === 0) {
    out.push(`## rumpkg ${full.join(' ')}`, '', cmd.description(), '');
    for (const sub of cmd.commands) commandSection(sub, full, out);
    return;
  }
  out.push(`## rumpkg ${full.join(' ')}`, '', cmd.description(), '', '```', usage(cmd, full), '```', '');
  if (cmd.aliases().length > 0) out.push(`Alias: ${cmd.aliases().map((a) => `\`rumpkg ${[...path, a].join(' ')}\``).join(', ')}.`, '');
  if (cmd.registeredArguments.length > 0) {
    out.push('| argument | |', '|---|---|');
    for (const a of cmd.registeredArguments) out.push(`| \`${a.name()}${a.variadic ? '...' : ''}\` | ${cell(`${a.description}${a.required ? '' : ' (optional)'}`)} |`);
    out.push('');
  }
  if (cmd.options.length > 0) {
    out.push('| option | |', '|---|---|');
    for (const o of cmd.options) out.push(`| ${optionRow(o).join(' | ')} |`);
    out.push('');
  }
  for (const sub of cmd.commands) commandSection(sub, full, out);
}

function commandsMarkdown(): string {
  const program = createProgram();
  const out = [
    GENERATED('the commander definitions (cli/commands/*.ts)'),
    '',
    '# Commands',
    '',
    program.description(),
    '',
    'Every command takes the global options below (before or after the command name). Exit codes:',
    '0 success; 1 a typed error (message and hint on stderr, or the `error` document with',
    '`--json`, see [json-output.md](json-output.md)); 2 usage; 3 audit findings at or above',
    '`--audit-level` or a `--deny` policy; 70 a bug in rumpkg (with its stack).',
    '',
    '| global option | |',
    '|---|---|',
    ...program.options.map((o) => `| ${optionRow(o).join(' | ')} |`),
    '| `-V, --version` | the version (first argument only) |',
    '',
    'Environment: `RUMPKG_HOME` (default `~/.rumpkg`: config.json, credentials.json, the cache',
    'and the store), `NO_COLOR` (a non-empty value turns colour off), `GITHUB_TOKEN` / `GH_TOKEN`',
    '(upstream commands), `SOURCE_DATE_EPOCH` (SBOM timestamps).',
    '',
    '| command | |',
    '|---|---|',
    ...program.commands.map((c) => `| [\`${c.name()}\`](#rumpkg-${c.name()}) | ${cell(c.description())} |`),
    '',
  ];
  for (const c of program.commands) commandSection(c, [], out);
  return `${out.join('\n').replace(/\n+$/, '')}\n`;
}

// ---------------------------------------------------------------------------------------------
// documents

function deref(s: Schema, root: Schema): Schema {
  let cur = s;
  for (let i = 0; i < 8 && typeof cur.$ref === 'string' && cur.$ref.startsWith('#/$defs/'); i++) {
    const target = ((root.$defs ?? {}) as Record<string, Schema>)[cur.$ref.slice('#/$defs/'.length)] ?? {};
    const { $ref: _drop, ...rest } = cur;
    cur = { ...target, ...rest };
  }
  return cur;
}

function typeOf(s: Schema, root: Schema): string {
  const d = deref(s, root);
  if (d.const !== undefined) return `\`${JSON.stringify(d.const)}\``;
  if (Array.isArray(d.enum)) {
    const shown = d.enum.length > 6 ? [...d.enum.slice(0, 3).map((e) => `\`${JSON.stringify(e)}\``), `… (${d.enum.length} values)`] : d.enum.map((e) => `\`${JSON.stringify(e)}\``);
    return shown.join(', ');
  }
  if (Array.isArray(d.anyOf) || Array.isArray(d.oneOf)) return ((d.anyOf ?? d.oneOf) as Schema[]).map((x) => typeOf(x, root)).join(' or ');
  if (d.type === 'array') return `array of ${typeOf((d.items ?? {}) as Schema, root)}`;
  if (d.type === 'object' && d.additionalProperties !== undefined && typeof d.additionalProperties === 'object' && d.properties === undefined) {
    return `map of ${typeOf(d.additionalProperties as Schema, root)}`;
  }
  const t = Array.isArray(d.type) ? d.type.join(' or ') : typeof d.type === 'string' ? d.type : 'any';
  // Short patterns say more than words; long ones are in the schema.
  return d.pattern !== undefined && t === 'string' && String(d.pattern).length <= 40 ? `string (\`${String(d.pattern)}\`)` : t;
}

/** One row per field, depth first: path, type, required, description. */
function fieldRows(s: Schema, root: Schema, path: string, required: boolean, rows: string[][], depth = 0): void {
  const d = deref(s, root);
  if (path !== '') rows.push([`\`${path}\``, cell(typeOf(d, root)), required ? 'yes' : '', cell(String(d.description ?? ''))]);
  if (depth > 6) return;
  if (d.type === 'object' && typeof d.properties === 'object' && d.properties !== null) {
    const req = new Set((d.required ?? []) as string[]);
    for (const [k, v] of Object.entries(d.properties as Record<string, Schema>)) fieldRows(v, root, path === '' ? k : `${path}.${k}`, req.has(k), rows, depth + 1);
  }
  if (d.type === 'object' && d.properties === undefined && typeof d.additionalProperties === 'object') {
    const key = path.endsWith('targets') ? '<target>' : path.endsWith('components') ? '<name>' : '<key>';
    const v = deref(d.additionalProperties as Schema, root);
    if (v.type === 'object' && v.properties !== undefined) fieldRows(v, root, `${path}.${key}`, false, rows, depth + 1);
  }
  if (d.type === 'array') {
    const items = deref((d.items ?? {}) as Schema, root);
    if (items.type === 'object' && items.properties !== undefined) fieldRows(items, root, `${path}[]`, false, rows, depth + 1);
  }
}

const DOCUMENTS: Record<DocumentKind, { file: string; title: string; intro: string[]; example: unknown }> = {
  'component-manifest': {
    file: 'docs/component-manifest.md',
    title: 'The component manifest (`package.json` of a component)',
    intro: [
      'A component is an npm-protocol package: a reproducible tarball (`rumpkg pack`) whose',
      '`package/package.json` holds npm\'s usual descriptive fields and a closed `rump` object.',
      'There are no `scripts` or `bin`: nothing runs when a component is installed. Every archive,',
      'object and linker script a target entry names must be a file of the package',
      '(`rumpkg validate DIR` checks the manifest against the directory). `rumpkg new component`',
      'writes one; `rumpkg import archives` writes them from real NetBSD archives',
      '([publishing-netbsd-drivers.md](publishing-netbsd-drivers.md)).',
    ],
    example: {
      name: '@rump/tcpip',
      version: '10.0.0',
      license: 'BSD-2-Clause',
      description: 'IPv4 incl. TCP and UDP (PF_INET)',
      dependencies: { '@rump/net': '^10.0.0', '@rump/net-net': '^10.0.0' },
      keywords: ['rump-component', 'rump-lib:librumpnet_netinet'],
      rump: {
        schemaVersion: 1,
        kind: 'component',
        lib: 'librumpnet_netinet',
        aliases: ['netinet', 'librumpnet_netinet'],
        faction: 'net',
        initLevels: ['RUMP_COMPONENT_NET'],
        requires: [],
        provides: [],
        conflicts: ['@rump/sockin'],
        optionalDependencies: {},
        targets: {
          'posix-x86_64': { archive: 'lib/posix-x86_64/librumpnet_netinet.a', abiFlags: ['-fcommon'] },
          'hw-x86_64': { archive: 'lib/hw-x86_64/librumpnet_netinet.a', abiFlags: ['-fcommon', '-mno-red-zone'] },
        },
        upstream: { project: 'NetBSD', repository: 'NetBSD/src', ref: 'netbsd-10-0-RELEASE', path: 'sys/rump/net/lib/libnetinet' },
      },
    },
  },
  'project-manifest': {
    file: 'docs/rumpkg-json.md',
    title: 'The project manifest (`rumpkg.json`)',
    intro: [
      'What a project asks for: its targets, the components it requests (name → semver range),',
      'which registry serves which scope, and how its image is put together (application sources,',
      'network interfaces, block devices). `rumpkg init` writes it; `add`, `remove` and `update`',
      'edit it; `install` resolves it into [rumpkg.lock](rumpkg-lock.md).',
    ],
    example: {
      schemaVersion: 1,
      name: 'hello-net',
      targets: ['posix-x86_64', 'hw-x86_64'],
      components: { '@rump/net-config': '^10.0.0', '@rump/tcpip': '^10.0.0', '@rump/virtif': '^10.0.0' },
      registries: { '@rump': 'file:~/.rumpkg/registry' },
      image: { sources: ['app.c'], entry: [], net: [{ if: 'virt0', type: 'inet', method: 'static', addr: '10.0.0.2', mask: '255.255.255.0' }], block: [] },
    },
  },
  lockfile: {
    file: 'docs/rumpkg-lock.md',
    title: 'The lockfile (`rumpkg.lock`)',
    intro: [
      'The exact closure of every target: each component\'s version, the scope whose registry',
      'serves it, its registry-relative tarball path and sha512 integrity, why it is there, and the',
      'link and init order. Written by `add`, `install`, `update` and `remove`; keys sorted, so the',
      'same resolution writes the same bytes. `install --frozen` refuses a lockfile that does not',
      'satisfy rumpkg.json. Another `lockfileVersion` than 1 is refused as unsupported.',
    ],
    example: undefined,
  },
  'image-manifest': {
    file: 'docs/image-manifest.md',
    title: 'The image manifest (`.rumpkg.manifest` section)',
    intro: [
      'Every image `rumpkg build` links carries this JSON document in an ELF section named',
      '`.rumpkg.manifest`: the target, the project, every component with its version, integrity and',
      'library, the link and init order. `rumpkg audit` reads it and checks each claim against the',
      'bytes of the image; an image whose section was removed is still audited from its symbols',
      'and link-set entries.',
    ],
    example: undefined,
  },
};

function documentMarkdown(kind: DocumentKind): string {
  const d = DOCUMENTS[kind];
  const schema = SCHEMAS[kind] as Schema;
  const rows: string[][] = [];
  fieldRows(schema, schema, '', true, rows);
  const out = [
    GENERATED(`schemas/${kind}.schema.ts`),
    '',
    `# ${d.title}`,
    '',
    ...d.intro,
    '',
    `JSON Schema (draft 2020-12): \`${String(schema.$id)}\` — \`rumpkg validate FILE\` checks a file against it and the semantic rules.`,
    '',
  ];
  if (d.example !== undefined) out.push('## Example', '', '```json', JSON.stringify(d.example, null, 2), '```', '');
  out.push('## Fields', '', '| field | type | required | description |', '|---|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`));
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// --json outputs

function jsonOutputMarkdown(): string {
  const root = jsonShapesSchema();
  const out = [
    GENERATED('scripts/docs/json-shapes.ts'),
    '',
    '# `--json` outputs',
    '',
    'With `--json` a command prints exactly one JSON document on stdout (2-space indented) and',
    'nothing else there; notes and progress stay on stderr. `registry serve` prints one document',
    'and then one JSON object per line per request. A failure prints the `error` document and',
    'exits with the same code as without `--json`. The machine-readable form of every shape below',
    'is [json-output.schema.json](json-output.schema.json) (`$defs.<shape>`); test/docs checks what',
    'each command prints against it.',
    '',
    '| shape | printed by |',
    '|---|---|',
    ...Object.entries(JSON_SHAPES).map(([k, v]) => `| [\`${k}\`](#${k}) | ${cell(v.commands)} |`),
    '',
  ];
  for (const [k, v] of Object.entries(JSON_SHAPES)) {
    const rows: string[][] = [];
    const s = v.schema;
    if (s.type === 'array') fieldRows(s, root, '[]', true, rows);
    else if (s.type === 'object' && s.properties === undefined && typeof s.additionalProperties === 'object') fieldRows(s, root, '<key>', true, rows);
    else fieldRows(s, root, '', true, rows);
    out.push(`## ${k}`, '', `**Printed by:** ${v.commands}`, '', v.description, '');
    if (typeof s.$ref === 'string') out.push(`The document itself: ${String(s.description ?? s.$ref)}.`, '');
    else if (Array.isArray(s.oneOf)) out.push(`One \`build-plan-one\`, or an array of them (several targets).`, '');
    if (rows.length > 0) out.push('| field | type | required | description |', '|---|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`), '');
  }
  return `${out.join('\n').replace(/\n+$/, '')}\n`;
}

/** Every generated file: repository path → content. */
export function generatedDocs(): Record<string, string> {
  const out: Record<string, string> = {
    'docs/commands.md': commandsMarkdown(),
    'docs/json-output.md': jsonOutputMarkdown(),
    'docs/json-output.schema.json': `${JSON.stringify(jsonShapesSchema(), null, 2)}\n`,
  };
  for (const kind of Object.keys(DOCUMENTS) as DocumentKind[]) out[DOCUMENTS[kind].file] = documentMarkdown(kind);
  return out;
}

/** The examples written into the document pages, by kind (the test validates them). */
export function documentExamples(): Array<{ kind: DocumentKind; example: unknown }> {
  return (Object.entries(DOCUMENTS) as Array<[DocumentKind, (typeof DOCUMENTS)[DocumentKind]]>).filter(([, d]) => d.example !== undefined).map(([kind, d]) => ({ kind, example: d.example }));
}
