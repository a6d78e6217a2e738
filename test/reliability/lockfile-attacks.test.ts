/**
 * RELIABILITY.md RG-08 (lockfile injection), IN-03 (lockfile integrity ≠ registry integrity) and
 * RG-01 (rollback), through the project API on the embedded file registry, and IN-05/IN-06 for
 * documents that arrive from a registry over HTTP. Every failure is a typed error, and the
 * project files, the store and the download cache are byte-identical before and after it.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { integrityOf, isRumpkgError, type Lockfile } from '../../components/index.js';
import { addComponents, buildProject, installProject, readLock, storeComponentDirResolver, updateComponents } from '../../packager/index.js';
import { createFileStorage, createRegistryClient, seenDir } from '../../registry/index.js';
import { packFixture, packumentFor, startServer } from '../registry/client-fixtures.js';
import { hashTree, registryHome, tempDir, writeProject } from './helpers.js';
import { expectCode } from '../helpers/process.js';

/** A project with app-x locked (1.1.0 closure) in its own home. Returns a fresh home too. */
async function lockedProject(): Promise<{ dir: string; home: string; env: NodeJS.ProcessEnv; lock: Lockfile; fresh: { home: string; env: NodeJS.ProcessEnv } }> {
  const { root, home, env } = await registryHome();
  const dir = writeProject(join(root, 'p'), { '@rump/app-x': '^1.0.0' });
  const r = await installProject(dir, { env });
  expect(Object.keys(r.lockfile.targets['posix-x86_64']!.components).sort()).toEqual(['@rump/app-x', '@rump/leaf-z', '@rump/mid-y']);
  const fresh = await registryHome();
  return { dir, home, env, lock: r.lockfile, fresh };
}

function editLock(dir: string, edit: (lock: Record<string, any>) => void): void {
  const p = join(dir, 'rumpkg.lock');
  const o = JSON.parse(readFileSync(p, 'utf8')) as Record<string, any>;
  edit(o);
  writeFileSync(p, `${JSON.stringify(o, null, 2)}\n`);
}

const snapshot = (dir: string, home: string): Record<string, string> => ({
  project: hashTree(dir),
  store: hashTree(join(home, 'store')),
  cache: hashTree(join(home, 'cache')),
  registry: hashTree(join(home, 'registry')),
});

const T = 'posix-x86_64';

describe('RG-08 lockfile injection: a hand-edited entry that does not fit policy → error, nothing fetched', () => {
  const cases: Array<[string, (l: Record<string, any>, lock: Lockfile) => void, string]> = [
    ['a tarball of another component', (l) => (l.targets[T].components['@rump/app-x'].tarball = '@rump/solo-w/-/solo-w-1.1.0.tgz'), 'E_LOCKFILE'],
    ['an absolute tarball URL on another host', (l) => (l.targets[T].components['@rump/app-x'].tarball = 'https://evil.example/app-x-1.1.0.tgz'), 'E_LOCKFILE'],
    ['a protocol-relative tarball URL', (l) => (l.targets[T].components['@rump/app-x'].tarball = '//evil.example/app-x-1.1.0.tgz'), 'E_LOCKFILE'],
    ['a tarball path that climbs out of the name', (l) => (l.targets[T].components['@rump/app-x'].tarball = '@rump/app-x/-/../../solo-w/-/solo-w-1.1.0.tgz'), 'E_LOCKFILE'],
    ['another registry (scope key) than the one pinned for the scope', (l) => (l.targets[T].components['@rump/app-x'].registry = '@evil'), 'E_LOCKFILE'],
    ['a registry URL instead of a scope key', (l) => (l.targets[T].components['@rump/app-x'].registry = 'https://evil.example/'), 'E_LOCKFILE'],
    [
      'a name with path tricks',
      (l) => {
        const c = l.targets[T].components;
        c['@rump/../../etc'] = c['@rump/leaf-z'];
        delete c['@rump/leaf-z'];
      },
      'E_LOCKFILE',
    ],
    ['sha1-only integrity', (l) => (l.targets[T].components['@rump/app-x'].integrity = 'sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk='), 'E_LOCKFILE'],
    ['a non-canonical version', (l) => (l.targets[T].components['@rump/app-x'].version = '01.1.0'), 'E_LOCKFILE'],
    // IN-03: a well-formed sha512 that is not the registry's → E_INTEGRITY_LOCK, never "fixed".
    ['a different sha512 integrity (IN-03)', (l) => (l.targets[T].components['@rump/app-x'].integrity = integrityOf(Buffer.from('other bytes'))), 'E_INTEGRITY_LOCK'],
    // The right name but the file of another version: caught against the registry's listing.
    ['the tarball file of another version of the same component', (l) => (l.targets[T].components['@rump/app-x'].tarball = '@rump/app-x/-/app-x-1.0.0.tgz'), 'E_LOCKFILE'],
  ];

  it.each(cases)('install refuses %s', async (_what, edit, code) => {
    const { dir, lock, fresh } = await lockedProject();
    editLock(dir, (l) => edit(l, lock));
    const before = snapshot(dir, fresh.home);
    const e = await expectCode(installProject(dir, { env: fresh.env }), code);
    expect(e.message).toMatch(/@rump(\/|~1)/); // the component (a JSON pointer in schema errors)
    expect(snapshot(dir, fresh.home)).toEqual(before);
    // Nothing was unpacked for anyone.
    expect(hashTree(join(fresh.home, 'store'))).toBe(hashTree(join(fresh.home, 'no-such-dir')));
  });

  it('add refuses an injected lockfile too, and leaves rumpkg.json and rumpkg.lock byte-identical', async () => {
    const { dir, fresh } = await lockedProject();
    editLock(dir, (l) => (l.targets[T].components['@rump/mid-y'].tarball = '@rump/solo-w/-/solo-w-1.0.0.tgz'));
    const before = snapshot(dir, fresh.home);
    await expectCode(addComponents(dir, ['solo-w'], { env: fresh.env }), 'E_LOCKFILE');
    expect(snapshot(dir, fresh.home)).toEqual(before);
  });

  it('the integrity of another component already in the store is refused, not served (E_INTEGRITY_LOCK)', async () => {
    const { dir, home, env } = await lockedProject();
    // solo-w enters the same store through another project.
    const other = writeProject(join(dir, '..', 'other'), { '@rump/solo-w': '^1.0.0' });
    const solo = (await installProject(other, { env })).lockfile.targets[T]!.components['@rump/solo-w']!;
    editLock(dir, (l) => (l.targets[T].components['@rump/app-x'].integrity = solo.integrity));
    const before = snapshot(dir, home);
    const e = await expectCode(installProject(dir, { env }), 'E_INTEGRITY_LOCK');
    expect(e.message).toMatch(/@rump\/app-x@1\.1\.0.*@rump\/solo-w@1\.1\.0/);
    expect(snapshot(dir, home)).toEqual(before);
    // The build's lookup does not parse index.json; planning, which compares each package.json
    // with the lockfile, gives up on the entry, and the verified path refuses it.
    const b = await expectCode(buildProject(dir, { resolveComponentDir: await storeComponentDirResolver(dir, { env }) }), 'E_INTEGRITY_LOCK');
    expect(b.message).toMatch(/@rump\/app-x@1\.1\.0.*@rump\/solo-w@1\.1\.0/);
  });
});

describe('IN-03 lockfile integrity ≠ registry integrity', () => {
  it('install (store miss), add and update all refuse; the lockfile is never auto-"fixed"', async () => {
    const { dir, fresh } = await lockedProject();
    const bogus = integrityOf(Buffer.from('not the tarball'));
    editLock(dir, (l) => (l.targets[T].components['@rump/leaf-z'].integrity = bogus));
    const before = snapshot(dir, fresh.home);
    for (const op of [
      () => installProject(dir, { env: fresh.env }),
      () => addComponents(dir, ['solo-w'], { env: fresh.env }),
      () => updateComponents(dir, [], { env: fresh.env }),
    ]) {
      const e = await expectCode(op(), 'E_INTEGRITY_LOCK');
      expect(e.message).toContain('@rump/leaf-z@1.1.0');
      expect(e.message).toContain(bogus);
    }
    expect(snapshot(dir, fresh.home)).toEqual(before);
    expect((await readLock(dir))!.targets[T]!.components['@rump/leaf-z']!.integrity).toBe(bogus);
  });
});

/** Removes `version` of `name` from the file registry (what a rolled-back registry serves). */
function rollBack(home: string, name: string, version: string, modified?: string): void {
  const p = join(home, 'registry', ...name.split('/'), 'packument.json');
  const doc = JSON.parse(readFileSync(p, 'utf8')) as { versions: Record<string, unknown>; time: Record<string, string>; 'dist-tags': Record<string, string> };
  delete doc.versions[version];
  delete doc.time[version];
  doc['dist-tags'].latest = Object.keys(doc.versions).sort().pop()!;
  if (modified !== undefined) doc.time.modified = modified;
  writeFileSync(p, `${JSON.stringify(doc, null, 2)}\n`);
  rmSync(join(home, 'registry', ...name.split('/'), '-', `${name.split('/')[1]}-${version}.tgz`));
}

describe('RG-01 rollback: metadata older than what the lockfile or this machine has seen', () => {
  it('a lockfile pins a version the registry no longer lists: install and add fail, lockfile untouched', async () => {
    const { dir, fresh } = await lockedProject();
    rollBack(fresh.home, '@rump/mid-y', '1.1.0');
    const before = snapshot(dir, fresh.home);
    const e1 = await expectCode(installProject(dir, { env: fresh.env }), 'E_REGISTRY_ROLLBACK');
    expect(e1.message).toContain('@rump/mid-y@1.1.0');
    // Without the check, add would silently move mid-y back to 1.0.0.
    const e2 = await expectCode(addComponents(dir, ['solo-w'], { env: fresh.env }), 'E_REGISTRY_ROLLBACK');
    expect(e2.message).toContain('@rump/mid-y@1.1.0');
    expect(snapshot(dir, fresh.home)).toEqual(before);
  });

  it('a packument listing fewer versions than this home saw before → E_REGISTRY_ROLLBACK (no lockfile needed)', async () => {
    const { root, home, env } = await registryHome();
    const a = writeProject(join(root, 'a'), { '@rump/solo-w': '^1.0.0' });
    await installProject(a, { env });
    rollBack(home, '@rump/solo-w', '1.1.0');
    const b = writeProject(join(root, 'b'), { '@rump/solo-w': '^1.0.0' });
    const before = snapshot(b, home);
    const e = await expectCode(installProject(b, { env }), 'E_REGISTRY_ROLLBACK');
    expect(e.message).toMatch(/@rump\/solo-w.*no longer lists @rump\/solo-w@1\.1\.0/);
    expect((e as { hint?: string }).hint).toContain(seenDir(home));
    expect(snapshot(b, home)).toEqual(before);
    // A registry reset on purpose: forgetting the high-water marks accepts it.
    rmSync(seenDir(home), { recursive: true });
    const r = await installProject(b, { env });
    expect(r.lockfile.targets[T]!.components['@rump/solo-w']!.version).toBe('1.0.0');
  });

  it('a failed add still writes the marks of the metadata it read (the session defers them to its end, whatever the end)', async () => {
    const { root, home, env } = await registryHome();
    const dir = writeProject(join(root, 'p'), {});
    await expectCode(addComponents(dir, ['solo-w', 'no-such-component'], { env }), 'E_NOT_FOUND');
    const marks = readdirSync(seenDir(home)).map((f) => (JSON.parse(readFileSync(join(seenDir(home), f), 'utf8')) as { name: string; versions: Record<string, string> }));
    expect(Object.keys(marks.find((m) => m.name === '@rump/solo-w')?.versions ?? {}).sort()).toEqual(['1.0.0', '1.1.0']);
  });

  it('an older time.modified, or another integrity for a seen version → E_REGISTRY_ROLLBACK; growth is fine', async () => {
    const { root, home } = await registryHome();
    const client = () => createRegistryClient({ home, registries: { '@rump': `file://${join(home, 'registry')}` } });
    const p = join(home, 'registry', '@rump', 'solo-w', 'packument.json');
    await client().packument('@rump/solo-w');
    const original = readFileSync(p, 'utf8');
    const doc = JSON.parse(original) as { time: Record<string, string>; versions: Record<string, { dist: { integrity: string } }> };
    writeFileSync(p, JSON.stringify({ ...doc, time: { ...doc.time, modified: '2001-01-01T00:00:00.000Z' } }));
    const e = await expectCode(client().packument('@rump/solo-w'), 'E_REGISTRY_ROLLBACK');
    expect(e.message).toContain('2001-01-01');
    const swapped = structuredClone(doc);
    swapped.versions['1.0.0']!.dist.integrity = integrityOf(Buffer.from('x'));
    writeFileSync(p, JSON.stringify(swapped));
    await expectCode(client().packument('@rump/solo-w'), 'E_REGISTRY_ROLLBACK');
    // An honest change — a new version — is accepted and raises the mark.
    writeFileSync(p, original);
    const src = tempDir('rel-src');
    await createFileStorage(join(home, 'registry')).publish((await packFixture(src, { name: '@rump/solo-w', version: '1.2.0' })).data);
    expect(Object.keys((await client().packument('@rump/solo-w')).versions)).toContain('1.2.0');
    rollBack(home, '@rump/solo-w', '1.2.0');
    await expectCode(client().packument('@rump/solo-w'), 'E_REGISTRY_ROLLBACK');
    void root;
  });

  it('over HTTP (revalidating): a registry that starts serving an older packument is refused', async () => {
    const src = tempDir('rel-http');
    const v1 = await packFixture(src, { name: '@rump/foo', version: '1.0.0' });
    const v2 = await packFixture(src, { name: '@rump/foo', version: '1.1.0' });
    let serveOld = false;
    const server = await startServer((req, res) => {
      const a = packumentFor(v1, 'x') as { versions: Record<string, unknown>; time: Record<string, string>; 'dist-tags': Record<string, string> };
      const b = packumentFor(v2, 'x') as typeof a;
      const doc = serveOld
        ? { ...a, time: { modified: '2020-01-01T00:00:00.000Z' } }
        : { ...a, versions: { ...a.versions, ...b.versions }, 'dist-tags': { latest: '1.1.0' }, time: { modified: '2024-01-01T00:00:00.000Z' } };
      res.writeHead(req.url === '/@rump%2ffoo' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(doc));
    });
    try {
      const home = join(tempDir('rel-http-home'), 'home');
      mkdirSync(home, { recursive: true });
      const client = () => createRegistryClient({ home, registries: { '@rump': server.url }, preferOnline: true });
      expect(Object.keys((await client().packument('@rump/foo')).versions).sort()).toEqual(['1.0.0', '1.1.0']);
      serveOld = true;
      const cacheBefore = hashTree(join(home, 'seen'));
      const e = await expectCode(client().packument('@rump/foo'), 'E_REGISTRY_ROLLBACK');
      expect(e.message).toContain(server.url.replace(/\/$/, ''));
      expect(hashTree(join(home, 'seen'))).toBe(cacheBefore);
    } finally {
      await server.close();
    }
  });
});

describe('IN-05 / IN-06 hostile documents from a registry (not only from the command line)', () => {
  async function projectAgainst(packument: Record<string, unknown>): Promise<{ dir: string; env: NodeJS.ProcessEnv; close: () => Promise<void> }> {
    const server = await startServer((req, res) => {
      if (req.url === '/@rump%2fevil') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(packument));
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"error":"not found"}');
      }
    });
    const root = tempDir('rel-hostile');
    const dir = writeProject(join(root, 'p'), { '@rump/evil': '^1.0.0' });
    const m = JSON.parse(readFileSync(join(dir, 'rumpkg.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'rumpkg.json'), JSON.stringify({ ...m, registries: { '@rump': server.url } }, null, 2));
    return { dir, env: { ...process.env, RUMPKG_HOME: join(root, 'home') }, close: () => server.close() };
  }

  async function evilPackument(deps: Record<string, string> | string): Promise<Record<string, unknown>> {
    const p = await packFixture(tempDir('rel-evil'), { name: '@rump/evil', version: '1.0.0' });
    const doc = packumentFor(p, '@rump/evil/-/evil-1.0.0.tgz') as { versions: Record<string, Record<string, unknown>> };
    if (typeof deps === 'string') {
      // Raw JSON text for the dependencies (keys JSON.stringify would not write, like __proto__).
      return JSON.parse(JSON.stringify(doc).replace('"dependencies":{}', `"dependencies":${deps}`)) as Record<string, unknown>;
    }
    doc.versions['1.0.0']!.dependencies = deps;
    return doc;
  }

  const hostile: Array<[string, Record<string, string>]> = [
    ['a 100,000-character range', { '@rump/leaf': '>=1.0.0 '.repeat(12_500) }],
    ['a pathological ||-chain', { '@rump/leaf': Array.from({ length: 5000 }, (_, i) => `1.${i}.x`).join(' || ') }],
    ['a nested-whitespace range (ReDoS shape)', { '@rump/leaf': `${'1'.repeat(30)}${' '.repeat(50_000)}x` }],
    ['an invalid range', { '@rump/leaf': '>=>=1..0' }],
  ];
  it.each(hostile)('%s in a registry packument → typed error in bounded time, files untouched', async (_what, deps) => {
    const { dir, env, close } = await projectAgainst(await evilPackument(deps));
    try {
      const before = hashTree(dir);
      const t0 = Date.now();
      const e = await addComponents(dir, ['@rump/evil'], { env }).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(isRumpkgError(e), String(e)).toBe(true);
      expect(['E_SEMVER', 'E_RESOLVE', 'E_RESOLVE_LIMIT']).toContain((e as { code: string }).code);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(hashTree(dir)).toBe(before);
    } finally {
      await close();
    }
  });

  it('__proto__ / constructor keys in registry metadata pollute nothing and give a typed error', async () => {
    const { dir, env, close } = await projectAgainst(await evilPackument('{"__proto__":{"polluted":"yes"},"constructor":"^1.0.0"}'));
    try {
      const e = await addComponents(dir, ['@rump/evil'], { env }).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(isRumpkgError(e), String(e)).toBe(true);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
    } finally {
      await close();
    }
  });
});


