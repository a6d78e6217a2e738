import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkManifest,
  errorFromProblems,
  isRumpkgError,
  licenseProblem,
  loadComponentDir,
  normalizeManifest,
  parseComponentManifest,
  parseJsonDocument,
  parseLockfileText,
  parseProjectManifest,
  peekProjectManifest,
  readProjectManifest,
  renderLockfile,
  renderProjectManifest,
  RumpkgError,
  writeProjectManifest,
  type ComponentManifestInput,
  type Lockfile,
  type ProjectManifest,
} from '../../components/index.js';
import { designComponentManifest, designProjectManifest, sampleLockfile } from '../schemas/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'rumpkg-manifest-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

/** A component directory with the design manifest (optionally changed) and its archive. */
function componentDir(edit: (m: Record<string, any>) => void = () => {}, files: Record<string, string> = { 'lib/posix-x86_64/librumpnet_netinet.a': '!<arch>\n' }): string {
  const dir = join(tmp, `c${n++}`);
  const m = designComponentManifest();
  edit(m);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify(m, null, 2));
  for (const [p, body] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), body);
  }
  return dir;
}

function thrown(f: () => unknown): RumpkgError {
  try {
    f();
  } catch (e) {
    if (e instanceof RumpkgError) return e;
    throw e;
  }
  throw new Error('expected a RumpkgError');
}

const text = (m: unknown): string => JSON.stringify(m, null, 2);

describe('parseJsonDocument (IN-05)', () => {
  it('parses ordinary JSON, with or without a BOM, from text or bytes', () => {
    expect(parseJsonDocument('{"a":[1,{"b":"}"}]}', { file: 'x.json' })).toEqual({ a: [1, { b: '}' }] });
    expect(parseJsonDocument('\ufeff[1]', { file: 'x.json' })).toEqual([1]);
    expect(parseJsonDocument(Buffer.from('{"é":"\\u00e9"}'), { file: 'x.json' })).toEqual({ é: 'é' });
  });

  it('refuses __proto__, constructor and prototype keys at any depth, naming the pointer', () => {
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const e = thrown(() => parseJsonDocument(`{"rump":{"targets":{"a/b":{"${key}":{"polluted":true}}}}}`, { file: 'package.json' }));
      expect(e.code).toBe('E_SCHEMA');
      expect(e.message).toBe(`package.json: /rump/targets/a~1b/${key}: the key "${key}" is not allowed`);
      expect(e.context.pointer).toBe(`/rump/targets/a~1b/${key}`);
    }
    // escaped spelling of the same key
    expect(thrown(() => parseJsonDocument('{"__pro\\u0074o__":{}}', { file: 'f' })).context.pointer).toBe('/__proto__');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses duplicate keys (two parsers must not read two documents)', () => {
    const e = thrown(() => parseJsonDocument('{"deps":[{"a":1,"b":2,"a":3}]}', { file: 'f.json' }));
    expect(e.code).toBe('E_SCHEMA');
    expect(e.context.pointer).toBe('/deps/0/a');
  });

  it('refuses 10,000-deep nesting before parsing, with the pointer of the cut', () => {
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const e = thrown(() => parseJsonDocument(deep, { file: 'deep.json' }));
    expect(e.code).toBe('E_SCHEMA');
    expect(e.message).toMatch(/^deep\.json: \/0(\/0){63}: nesting deeper than 64 levels$/);
    const objs = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    expect(thrown(() => parseJsonDocument(objs, { file: 'o.json', maxDepth: 3 })).context.pointer).toBe('/a/a/a');
  });

  it('refuses a 50 MB document without parsing it', () => {
    const big = `{"a":"${'x'.repeat(50 * 1024 * 1024)}"}`;
    const t0 = Date.now();
    const e = thrown(() => parseJsonDocument(big, { file: 'big.json' }));
    expect(e.code).toBe('E_SCHEMA');
    expect(e.message).toMatch(/^big\.json: document is 52428808 bytes, more than the limit of \d+$/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('reports syntax errors with file, line and column', () => {
    const e = thrown(() => parseJsonDocument('{\n  "a": 1,\n  "b": }\n', { file: 'bad.json' }));
    expect(e.code).toBe('E_JSON_PARSE');
    expect(e.message).toBe('bad.json: invalid JSON at line 3, column 8: unexpected "}"');
    expect(thrown(() => parseJsonDocument('{"a": [1, 2', { file: 'f' })).message).toBe('f: invalid JSON at line 1, column 12: unexpected end of input');
    expect(thrown(() => parseJsonDocument('{"a": 01}', { file: 'f' })).message).toBe('f: invalid JSON at line 1, column 8: unexpected "1"');
    expect(thrown(() => parseJsonDocument(Buffer.from([0x7b, 0xff, 0x7d]), { file: 'bin' })).code).toBe('E_JSON_PARSE');
  });

  it('never crashes on arbitrary input: a value or a typed error', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (s) => {
        try {
          parseJsonDocument(s, { file: 'f', maxDepth: 8 });
        } catch (e) {
          expect(isRumpkgError(e, 'E_JSON_PARSE') || isRumpkgError(e, 'E_SCHEMA')).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('component manifests', () => {
  it('the DESIGN.md §4.1 example validates and normalises', () => {
    const r = parseComponentManifest(text(designComponentManifest()), { file: 'package.json', files: ['package.json', 'lib/posix-x86_64/librumpnet_netinet.a'] });
    expect(r.errors).toEqual([]);
    expect(r.value?.rump.kind).toBe('component');
    expect(Object.keys(r.value!)).toEqual(['name', 'version', 'description', 'license', 'dependencies', 'rump']);
    expect(Object.keys(r.value!.rump)).toEqual([
      'schemaVersion', 'kind', 'lib', 'aliases', 'faction', 'initLevels', 'requires', 'provides', 'conflicts', 'optionalDependencies', 'targets', 'upstream',
    ]);
  });

  it('normalise fills defaults, sorts lists and is idempotent', () => {
    const m = designComponentManifest() as unknown as ComponentManifestInput;
    m.rump.aliases = ['rumpnet_netinet', 'netinet', 'librumpnet_netinet'];
    m.rump.initLevels = ['RUMP_COMPONENT_NET_IFCFG', 'RUMP_COMPONENT_KERN'];
    m.rump.requires = ['z:1', 'a'];
    delete m.rump.provides;
    delete m.rump.kind;
    m.dependencies = { '@rump/z': '1', '@rump/a': '2' };
    const n1 = normalizeManifest(m);
    expect(n1.rump.aliases).toEqual(['librumpnet_netinet', 'netinet', 'rumpnet_netinet']);
    expect(n1.rump.initLevels).toEqual(['RUMP_COMPONENT_KERN', 'RUMP_COMPONENT_NET_IFCFG']);
    expect(n1.rump.requires).toEqual(['a', 'z:1']);
    expect(n1.rump.provides).toEqual([]);
    expect(n1.rump.kind).toBe('component');
    expect(Object.keys(n1.dependencies)).toEqual(['@rump/a', '@rump/z']);
    expect(JSON.stringify(normalizeManifest(n1))).toBe(JSON.stringify(n1));
    const bare = designComponentManifest() as unknown as ComponentManifestInput;
    delete bare.dependencies;
    delete bare.rump.optionalDependencies;
    delete bare.rump.initLevels;
    const n2 = normalizeManifest(bare);
    expect(n2.dependencies).toEqual({});
    expect(n2.rump.optionalDependencies).toEqual({});
    expect(n2.rump.initLevels).toEqual([]);
    // Additive fields appear only when used (an older reader never sees them otherwise).
    expect(n2.rump.providers).toBeUndefined();
    expect(n2.rump.anyOf).toBeUndefined();
    expect(normalizeManifest({ ...bare, rump: { ...bare.rump, providers: {}, anyOf: [] } }).rump).toEqual(n2.rump);
  });

  it('known providers and any-of groups: validated, sorted, idempotent', () => {
    const m = designComponentManifest() as Record<string, any>;
    m.rump.requires = ['hypercall:17', 'bus:pci'];
    m.rump.providers = { 'hypercall:17': ['@rump/rumpuser', '@rump/platform-hw-x86_64'], 'bus:pci': ['@rump/pci'] };
    m.rump.anyOf = [['@rump/sockin', '@rump/net-net'], ['@rump/b', '@rump/a']];
    m.rump.conflicts = [];
    const r = parseComponentManifest(text(m), { file: 'package.json' });
    expect(r.errors).toEqual([]);
    expect(r.value?.rump.providers).toEqual({ 'bus:pci': ['@rump/pci'], 'hypercall:17': ['@rump/platform-hw-x86_64', '@rump/rumpuser'] });
    expect(Object.keys(r.value?.rump.providers ?? {})).toEqual(['bus:pci', 'hypercall:17']);
    expect(Object.keys(r.value?.rump ?? {})).toEqual([
      'schemaVersion', 'kind', 'lib', 'aliases', 'faction', 'initLevels', 'requires', 'providers', 'provides', 'conflicts', 'anyOf', 'optionalDependencies', 'targets', 'upstream',
    ]);
    expect(r.value?.rump.anyOf).toEqual([['@rump/a', '@rump/b'], ['@rump/net-net', '@rump/sockin']]);
    expect(JSON.stringify(normalizeManifest(r.value as ComponentManifestInput))).toBe(JSON.stringify(r.value));
  });

  const cases: Array<[string, (m: Record<string, any>) => void, string, RegExp]> = [
    ['unknown key', (m) => (m.rump.exportSymbols = true), '/rump/exportSymbols', /unknown key "exportSymbols"/],
    ['wrong type', (m) => (m.rump.aliases = 'netinet'), '/rump/aliases', /must be array, not string/],
    ['bad pattern', (m) => (m.rump.lib = 'netinet'), '/rump/lib', /must match pattern "\^lib/],
    ['bad dependency name', (m) => (m.dependencies = { '@rump/../etc': '^1' }), '/dependencies/@rump~1..~1etc', /must match pattern|must not contain/],
    ['hostile range', (m) => (m.dependencies = { '@rump/net': Array.from({ length: 80 }, () => '1').join('||') }), '/dependencies/@rump~1net', /at most 64 comparators/],
    ['non-canonical version', (m) => (m.version = '10.0.0-01'), '/version', /must match pattern/],
    ['duplicate alias', (m) => (m.rump.aliases = ['netinet', 'rumpnet_netinet', 'netinet']), '/rump/aliases/2', /alias "netinet" is listed twice/],
    ['alias equal to the name', (m) => (m.rump.aliases = ['tcpip']), '/rump/aliases/0', /repeats the component name/],
    ['invalid alias', (m) => (m.rump.aliases = ['net..inet']), '/rump/aliases/0', /must not contain "\.\."/],
    ['self-dependency', (m) => (m.dependencies['@rump/tcpip'] = '^10.0.0'), '/dependencies/@rump~1tcpip', /@rump\/tcpip depends on itself/],
    ['self-conflict', (m) => (m.rump.conflicts = ['@rump/tcpip']), '/rump/conflicts/0', /conflicts with itself/],
    ['dependency that is also a conflict', (m) => (m.rump.conflicts = ['@rump/net']), '/rump/conflicts/0', /both a dependency and a conflict/],
    ['hard and optional', (m) => (m.rump.optionalDependencies = { '@rump/net': '^10' }), '/rump/optionalDependencies/@rump~1net', /both a hard and an optional/],
    ['no target', (m) => (m.rump.targets = {}), '/rump/targets', /fewer than 1 properties/],
    ['unsafe archive path', (m) => (m.rump.targets['posix-x86_64'].archive = '../../etc/passwd'), '/rump/targets/posix-x86_64/archive', /must match pattern/],
    ['unknown init level', (m) => (m.rump.initLevels = ['RUMP_COMPONENT_FOO']), '/rump/initLevels/0', /not an allowed value/],
    ['invalid licence', (m) => (m.license = 'BSD or whatever'), '/license', /not a valid SPDX licence expression/],
    ['providers of a capability not required', (m) => (m.rump.providers = { 'bus:pci': ['@rump/pci'] }), '/rump/providers/bus:pci', /^providers names bus:pci, which is not in requires$/],
    ['provider listed twice', (m) => (m.rump.providers = { 'hypercall:17': ['@rump/rumpuser', '@rump/rumpuser'] }), '/rump/providers/hypercall:17/1', /^provider "@rump\/rumpuser" is listed twice$/],
    ['itself as a provider', (m) => (m.rump.providers = { 'hypercall:17': ['@rump/tcpip'] }), '/rump/providers/hypercall:17/0', /^@rump\/tcpip names itself as a provider of hypercall:17$/],
    ['provider with a bad name', (m) => (m.rump.providers = { 'hypercall:17': ['@rump/../x'] }), '/rump/providers/hypercall:17/0', /must match pattern|must not contain/],
    ['providers list empty', (m) => (m.rump.providers = { 'hypercall:17': [] }), '/rump/providers/hypercall:17', /fewer than 1 items/],
    ['any-of group of one', (m) => (m.rump.anyOf = [['@rump/net-net']]), '/rump/anyOf/0', /fewer than 2 items/],
    ['any-of naming itself', (m) => (m.rump.anyOf = [['@rump/tcpip', '@rump/sockin2']]), '/rump/anyOf/0/0', /^@rump\/tcpip lists itself in an any-of group$/],
    ['any-of name twice', (m) => (m.rump.anyOf = [['@rump/a', '@rump/b', '@rump/a']]), '/rump/anyOf/0/2', /^any-of name "@rump\/a" is listed twice$/],
    ['any-of group twice', (m) => (m.rump.anyOf = [['@rump/a', '@rump/b'], ['@rump/b', '@rump/a']]), '/rump/anyOf/1', /^the any-of group @rump\/b \| @rump\/a is listed twice$/],
    ['any-of with a hard dependency', (m) => (m.rump.anyOf = [['@rump/net', '@rump/b']]), '/rump/anyOf/0/0', /^@rump\/net is a hard dependency, so the any-of group is always satisfied$/],
    ['any-of with a conflict', (m) => (m.rump.anyOf = [['@rump/net-net', '@rump/sockin']]), '/rump/anyOf/0/1', /^@rump\/sockin is both an any-of alternative and a conflict$/],
    ['any-of with a bad name', (m) => (m.rump.anyOf = [['@rump/a', 'A B']]), '/rump/anyOf/0/1', /must match pattern/],
    ['__proto__ key', (m) => (m.rump.targets['posix-x86_64'] = JSON.parse('{"archive":"a.a","__proto__":{"x":1}}')), '/rump/targets/posix-x86_64/__proto__', /the key "__proto__" is not allowed/],
  ];
  for (const [what, edit, pointer, message] of cases) {
    it(`${what} → a problem at ${pointer}`, () => {
      const m = designComponentManifest() as Record<string, any>;
      edit(m);
      const r = parseComponentManifest(text(m), { file: 'pkg/package.json' });
      expect(r.value).toBeUndefined();
      const p = r.errors.find((e) => e.pointer === pointer);
      expect(p, JSON.stringify(r.errors, null, 1)).toBeDefined();
      expect(p!.file).toBe('pkg/package.json');
      expect(p!.message).toMatch(message);
      expect(p!.expected).not.toBe('');
    });
  }

  it('accepts the SPDX expressions the catalog uses', () => {
    for (const l of ['BSD-2-Clause', '(BSD-3-Clause OR GPL-2.0-only)', 'BSD-2-Clause AND BSD-3-Clause AND LicenseRef-OpenBSD-crypto-permissive', 'BSD-2-Clause AND CDDL-1.0']) {
      expect(licenseProblem(l), l).toBeUndefined();
    }
    for (const l of ['', 'BSD', 'MIT OR', 'GPL-2.0-only WITH', 'x'.repeat(300)]) expect(licenseProblem(l), l).toBeDefined();
  });

  it('checkManifest is usable on programmatic manifests', () => {
    const m = normalizeManifest(designComponentManifest() as unknown as ComponentManifestInput);
    expect(checkManifest(m)).toEqual([]);
    m.rump.targets['posix-x86_64']!.objects = ['/boot/crt0.o'];
    m.rump.targets['hw-x86_64'] = { archive: 'lib/hw-x86_64/x.a' };
    const probs = checkManifest(m, { files: ['lib/posix-x86_64/librumpnet_netinet.a'] });
    expect(probs.map((p) => p.pointer)).toEqual(['/rump/targets/posix-x86_64/objects/0', '/rump/targets/hw-x86_64/archive']);
    expect(probs[1]!.message).toBe('"lib/hw-x86_64/x.a" is not in the package');
  });

  it('loadComponentDir checks archives against the directory', async () => {
    const ok = await loadComponentDir(componentDir());
    expect(ok.errors).toEqual([]);
    expect(ok.value?.name).toBe('@rump/tcpip');

    const dir = componentDir(() => {}, { 'lib/posix-x86_64/other.a': 'x' });
    const missing = await loadComponentDir(dir);
    expect(missing.value).toBeUndefined();
    expect(missing.errors).toEqual([
      {
        file: join(dir, 'package.json'),
        pointer: '/rump/targets/posix-x86_64/archive',
        message: '"lib/posix-x86_64/librumpnet_netinet.a" is not in the package',
        expected: 'a regular file present in the component directory',
        stage: 'semantic',
      },
    ]);
    const err = errorFromProblems(missing.errors, { file: join(dir, 'package.json'), kind: 'component-manifest' });
    expect(err.code).toBe('E_MANIFEST');
    expect(err.message).toContain(`${join(dir, 'package.json')}: /rump/targets/posix-x86_64/archive: "lib/posix-x86_64/librumpnet_netinet.a" is not in the package`);
  });

  it('a directory where the archive is expected does not count as the archive', async () => {
    const dir = componentDir(() => {}, { 'lib/posix-x86_64/librumpnet_netinet.a/inner': 'x' });
    const r = await loadComponentDir(dir);
    expect(r.errors.map((e) => e.pointer)).toEqual(['/rump/targets/posix-x86_64/archive']);
  });
});

describe('symlinks', () => {
  it('a symlinked package.json is refused; a symlinked archive does not count', async () => {
    const real = componentDir();
    const dir = join(tmp, `c${n++}`);
    mkdirSync(join(dir, 'lib/posix-x86_64'), { recursive: true });
    symlinkSync(join(real, 'package.json'), join(dir, 'package.json'));
    await expect(loadComponentDir(dir)).rejects.toMatchObject({ code: 'E_IO', message: `${join(dir, 'package.json')} is a symbolic link` });
    const linked = componentDir(() => {}, {});
    mkdirSync(join(linked, 'lib/posix-x86_64'), { recursive: true });
    symlinkSync(join(real, 'lib/posix-x86_64/librumpnet_netinet.a'), join(linked, 'lib/posix-x86_64/librumpnet_netinet.a'));
    expect((await loadComponentDir(linked)).errors.map((e) => e.message)).toEqual(['"lib/posix-x86_64/librumpnet_netinet.a" is not in the package']);
  });

  it('a symlinked rumpkg.json is followed (the user owns it)', async () => {
    const real = join(tmp, 'real-rumpkg.json');
    writeFileSync(real, JSON.stringify(designProjectManifest()));
    symlinkSync(real, join(tmp, 'link-rumpkg.json'));
    expect((await readProjectManifest(join(tmp, 'link-rumpkg.json'))).name).toBe('hello-net');
  });
});

describe('project manifest', () => {
  it('peek: the name and targets as the JSON states them; read() runs the full checks over the same bytes and throws what readProjectManifest throws', async () => {
    const good = join(tmp, 'peek-good.json');
    writeFileSync(good, text(designProjectManifest()));
    const p = peekProjectManifest(good);
    expect(p?.name).toBe('hello-net');
    expect(p?.targets).toEqual((designProjectManifest() as { targets: string[] }).targets);
    expect(p?.read()).toEqual(await readProjectManifest(good));

    // JSON fine, checks refuse it: peek still answers; read() fails exactly as the full read does.
    const bad = join(tmp, 'peek-bad.json');
    writeFileSync(bad, text({ ...designProjectManifest(), components: { 'a..b': '^1.0.0' } }));
    const q = peekProjectManifest(bad);
    expect(q?.name).toBe('hello-net');
    const full = await readProjectManifest(bad).catch((e: unknown) => e as RumpkgError);
    expect(full).toBeInstanceOf(RumpkgError);
    let deferred: unknown;
    try {
      q?.read();
    } catch (e) {
      deferred = e;
    }
    expect(deferred).toBeInstanceOf(RumpkgError);
    expect([(deferred as RumpkgError).code, (deferred as RumpkgError).message]).toEqual([(full as RumpkgError).code, (full as RumpkgError).message]);
    expect((deferred as RumpkgError).code).toBe('E_MANIFEST');
  });

  it('peek: undefined (the full read reports why) for a missing file, a directory, a FIFO (without blocking), too many bytes, bad JSON, a name or targets of the wrong type', () => {
    expect(peekProjectManifest(join(tmp, 'peek-none.json'))).toBeUndefined();
    mkdirSync(join(tmp, 'peek-dir.json'));
    expect(peekProjectManifest(join(tmp, 'peek-dir.json'))).toBeUndefined();
    expect(spawnSync('mkfifo', [join(tmp, 'peek-fifo.json')]).status).toBe(0);
    expect(peekProjectManifest(join(tmp, 'peek-fifo.json'))).toBeUndefined();
    writeFileSync(join(tmp, 'peek-big.json'), `{"name":"x","targets":[],"pad":"${'x'.repeat(4 * 1024 * 1024)}"}`);
    expect(peekProjectManifest(join(tmp, 'peek-big.json'))).toBeUndefined();
    const cases: Array<[string, string]> = [
      ['syntax', '{"name": "x", "targets": ['],
      ['array', '[]'],
      ['name', text({ ...designProjectManifest(), name: 7 })],
      ['targets', text({ ...designProjectManifest(), targets: 'hw-x86_64' })],
      ['target', text({ ...designProjectManifest(), targets: ['hw-x86_64', 1] })],
      ['duplicate key', '{"name": "x", "name": "y", "targets": []}'],
    ];
    for (const [what, body] of cases) {
      writeFileSync(join(tmp, 'peek-case.json'), body);
      expect(peekProjectManifest(join(tmp, 'peek-case.json')), what).toBeUndefined();
    }
  });

  it('the DESIGN.md §4.2 example validates', () => {
    const r = parseProjectManifest(text(designProjectManifest()), { file: 'rumpkg.json' });
    expect(r.errors).toEqual([]);
    expect(r.value?.components).toEqual({ tcpip: '^10.0.0', 'virtio-net': '^10.0.0' });
  });

  it('semantic problems: bad component name, hostile range, static without address', () => {
    const p = designProjectManifest() as Record<string, any>;
    p.components = { 'a..b': '^1', tcpip: Array.from({ length: 70 }, () => '1').join('||') };
    p.image.net = [{ if: 'vioif0', type: 'inet', method: 'static' }];
    const r = parseProjectManifest(text(p), { file: 'rumpkg.json' });
    expect(r.errors.map((e) => e.pointer)).toEqual(['/components/a..b', '/components/tcpip', '/image/net/0/addr']);
  });

  it('writes atomically with a fixed key order and reads back', async () => {
    const path = join(tmp, 'rumpkg.json');
    const m = { ...designProjectManifest(), components: { 'virtio-net': '^10.0.0', tcpip: '^10.0.0' } } as unknown as ProjectManifest;
    await writeProjectManifest(path, m);
    const written = readFileSync(path, 'utf8');
    expect(written).toBe(renderProjectManifest(m));
    expect(written.endsWith('}\n')).toBe(true);
    expect(written.indexOf('"tcpip"')).toBeLessThan(written.indexOf('"virtio-net"'));
    expect(Object.keys(JSON.parse(written))).toEqual(['schemaVersion', 'name', 'targets', 'components', 'registries', 'image']);
    expect(await readProjectManifest(path)).toEqual(JSON.parse(written));
    expect(readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('targetComponents: sorted, placed after components, empty entries dropped; omitted when empty', () => {
    const m = {
      ...designProjectManifest(),
      components: { tcpip: '^10.0.0' },
      targetComponents: { 'posix-x86_64': {}, 'hw-x86_64': { 'virtio-net': '^10.0.0', 'virtio-blk': '^10.0.0' } },
    } as unknown as ProjectManifest;
    const text1 = renderProjectManifest(m);
    const back = JSON.parse(text1) as Record<string, unknown>;
    expect(Object.keys(back)).toEqual(['schemaVersion', 'name', 'targets', 'components', 'targetComponents', 'registries', 'image']);
    expect(back.targetComponents).toEqual({ 'hw-x86_64': { 'virtio-blk': '^10.0.0', 'virtio-net': '^10.0.0' } });
    expect(Object.keys((back.targetComponents as Record<string, Record<string, string>>)['hw-x86_64']!)).toEqual(['virtio-blk', 'virtio-net']);
    expect(parseProjectManifest(text1, { file: 'rumpkg.json' }).value?.targetComponents).toEqual(back.targetComponents);
    const none = renderProjectManifest({ ...m, targetComponents: { 'hw-x86_64': {} } });
    expect(none).not.toContain('targetComponents');
    const bad = parseProjectManifest(text({ ...designProjectManifest(), targetComponents: { 'xen-x86_64': { 'a..b': '^1' }, 'hw-x86_64': { tcpip: '^10' } } }), { file: 'rumpkg.json' });
    expect(bad.errors.map((e) => [e.pointer, e.message])).toEqual([
      ['/targetComponents/hw-x86_64/tcpip', 'tcpip is requested for every target (components) and for hw-x86_64'],
      ['/targetComponents/xen-x86_64', "xen-x86_64 is not one of the project's targets (posix-x86_64, hw-x86_64)"],
      ['/targetComponents/xen-x86_64/a..b', 'component name "a..b": a name must not contain ".."'],
    ]);
  });

  it('never writes an invalid manifest, and keeps the old file', async () => {
    const path = join(tmp, 'keep.json');
    await writeProjectManifest(path, designProjectManifest() as unknown as ProjectManifest);
    const before = readFileSync(path, 'utf8');
    const bad = { ...designProjectManifest(), targets: ['beos-m68k'] } as unknown as ProjectManifest;
    await expect(writeProjectManifest(path, bad)).rejects.toMatchObject({ code: 'E_SCHEMA' });
    expect(readFileSync(path, 'utf8')).toBe(before);
  });

  it('read errors are typed', async () => {
    await expect(readProjectManifest(join(tmp, 'nope.json'))).rejects.toMatchObject({ code: 'E_NOT_FOUND', hint: expect.stringContaining('rumpkg init') });
    const path = join(tmp, 'broken.json');
    writeFileSync(path, '{"schemaVersion": 1,');
    await expect(readProjectManifest(path)).rejects.toMatchObject({ code: 'E_JSON_PARSE' });
  });
});

describe('lockfile', () => {
  it('renderLockfile sorts keys at every level, keeps arrays, ends with a newline', () => {
    const lock = sampleLockfile() as unknown as Lockfile;
    const out = renderLockfile(lock);
    expect(out.endsWith('}\n')).toBe(true);
    const parsed = JSON.parse(out) as Record<string, any>;
    expect(Object.keys(parsed)).toEqual(['lockfileVersion', 'requested', 'revision', 'targets']);
    const closure = parsed.targets['posix-x86_64'];
    expect(Object.keys(closure.components)).toEqual(['@rump/net', '@rump/posix', '@rump/tcpip']);
    expect(closure.linkOrder).toEqual(['@rump/tcpip', '@rump/net', '@rump/posix']);
    expect(Object.keys(closure.initOrder[0])).toEqual(['component', 'level', 'lib']);
  });

  it('round-trips byte for byte, whatever the key order of the input', () => {
    const shuffle = (v: unknown, seed: number): unknown => {
      if (Array.isArray(v)) return v.map((x) => shuffle(x, seed));
      if (v !== null && typeof v === 'object') {
        const keys = Object.keys(v);
        const rotated = keys.slice(seed % Math.max(1, keys.length)).concat(keys.slice(0, seed % Math.max(1, keys.length))).reverse();
        return Object.fromEntries(rotated.map((k) => [k, shuffle((v as Record<string, unknown>)[k], seed + 1)]));
      }
      return v;
    };
    const canonical = renderLockfile(sampleLockfile() as unknown as Lockfile);
    fc.assert(
      fc.property(fc.nat(50), (seed) => {
        const r = parseLockfileText(JSON.stringify(shuffle(sampleLockfile(), seed)), { file: 'rumpkg.lock' });
        expect(r.errors).toEqual([]);
        expect(renderLockfile(r.value!)).toBe(canonical);
      }),
      { numRuns: 30 },
    );
    const again = parseLockfileText(canonical, { file: 'rumpkg.lock' });
    expect(renderLockfile(again.value!)).toBe(canonical);
  });

  it('semantic checks: closure members, link order', () => {
    const lock = sampleLockfile() as Record<string, any>;
    const closure = lock.targets['posix-x86_64'];
    delete closure.components['@rump/net'];
    closure.linkOrder.push('@rump/tcpip');
    const r = parseLockfileText(JSON.stringify(lock), { file: 'rumpkg.lock' });
    expect(r.errors.map((e) => e.pointer)).toEqual([
      '/targets/posix-x86_64/components/@rump~1tcpip/dependencies/@rump~1net',
      '/targets/posix-x86_64/linkOrder/1',
      '/targets/posix-x86_64/linkOrder/3',
    ]);
    expect(errorFromProblems(r.errors, { file: 'rumpkg.lock', kind: 'lockfile' }).code).toBe('E_LOCKFILE');
  });

  it('targetRequested: only for targets with a closure, with valid names', () => {
    const lock = sampleLockfile() as Record<string, any>;
    lock.targetRequested = { 'posix-x86_64': { '@rump/net': '^10.0.0' } };
    expect(parseLockfileText(JSON.stringify(lock), { file: 'rumpkg.lock' }).errors).toEqual([]);
    lock.targetRequested = { 'hw-x86_64': { '@rump/net': '^10.0.0' } };
    expect(parseLockfileText(JSON.stringify(lock), { file: 'rumpkg.lock' }).errors.map((e) => [e.pointer, e.message])).toEqual([
      ['/targetRequested/hw-x86_64', 'requests for hw-x86_64, which has no locked closure'],
    ]);
    lock.targetRequested = { 'posix-x86_64': { '@rump/../x': '^10.0.0' } };
    expect(parseLockfileText(JSON.stringify(lock), { file: 'rumpkg.lock' }).errors.map((e) => e.pointer)).toEqual(['/targetRequested/posix-x86_64/@rump~1..~1x']);
  });
});
