/**
 * The no-op paths (a warm `rumpkg install` and `rumpkg build` with nothing to do) against a real
 * store: the corpus components of examples/hello-net published into an embedded file registry,
 * installed and built once. Then:
 * - store `lookup` is identity + sizes, no hashing: it refuses another component's integrity
 *   (E_INTEGRITY_LOCK) and misses a truncated, missing or pre-sizes entry (which gets its sizes
 *   once `ensureUnpacked` has verified it); with `files: false`, whether index.json exists;
 * - a no-op install writes nothing and takes no lock; a truncated store file makes it take the
 *   full path, which evicts and refetches the entry;
 * - a no-op build never calls the verified resolver; a same-size flipped byte in a store archive
 *   (which the cheap lookup cannot see) changes the stamp, so the build takes the verified path,
 *   which evicts and refetches the entry before anything could be linked from it;
 * - the launcher answers the next identical no-op build or install from the memo the last one
 *   left, without loading the CLI, until anything it depended on changes (packager/early, replayNoop).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isRumpkgError, type LockedComponent } from '../../components/index.js';
import { buildProject, installProject, readLock, storeComponentDirResolver } from '../../packager/index.js';
import { createStore, homePaths, storeKey } from '../../registry/index.js';
import { RACY_MARGIN_WHOLE_SECONDS_NS, factOf, noopEnv, noopMemoFile, replayNoop, writeMemo, type NoopMemo } from '../../packager/early/index.js';
import { HELLO_C, publishHelloNet, sha256File, tempDirsRemovedAfterAll } from './helpers.js';

const T = 'posix-x86_64';
const temp = tempDirsRemovedAfterAll();

let home: string;
let env: NodeJS.ProcessEnv;
const noSource = { tarball: (): Promise<Buffer> => Promise.reject(new Error('no fetching here')) };

beforeAll(async () => {
  home = join(temp('rumpkg-noop-home-'), 'home');
  env = { ...process.env, RUMPKG_HOME: home };
  await publishHelloNet(home);
}, 120_000);

function project(): string {
  const dir = temp('rumpkg-noop-project-');
  writeFileSync(
    join(dir, 'rumpkg.json'),
    `${JSON.stringify({ schemaVersion: 1, name: 'noop', targets: [T], components: { '@rump/net-config': '^10.0.0', '@rump/tcpip': '^10.0.0', '@rump/virtif': '^10.0.0' }, registries: {}, image: { sources: ['app.c'], net: [{ if: 'virt0', type: 'inet', method: 'static', addr: '10.0.0.2', mask: '24' }] } }, null, 2)}\n`,
  );
  writeFileSync(join(dir, 'app.c'), HELLO_C);
  return dir;
}

async function locked(dir: string, name: string): Promise<LockedComponent> {
  return (await readLock(dir))!.targets[T]!.components[name]!;
}

function archiveOf(entry: string): string {
  const lib = join(entry, 'lib', T);
  return join(lib, readdirSync(lib).find((f) => f.endsWith('.a'))!);
}

/** Counts the calls of the verified path of the store resolver. */
async function countingResolver(dir: string): Promise<{ resolver: Parameters<typeof buildProject>[1]['resolveComponentDir']; calls: () => number }> {
  const inner = await storeComponentDirResolver(dir, { env });
  let n = 0;
  const resolver = Object.assign((name: string, l: LockedComponent) => (n++, inner(name, l)), { lookup: inner.lookup });
  return { resolver, calls: () => n };
}

describe('store lookup', () => {
  it('is identity and sizes: another integrity is refused; a truncated, missing or pre-sizes entry is a miss', async () => {
    const dir = project();
    await installProject(dir, { env });
    const store = createStore(noSource, { home });
    const tcpip = await locked(dir, '@rump/tcpip');
    const net = await locked(dir, '@rump/net');
    const entry = store.lookup('@rump/tcpip', tcpip.version, { integrity: tcpip.integrity });
    expect(entry).toBe(join(homePaths(home).store, storeKey(tcpip.integrity), 'pkg'));
    let err: unknown;
    try {
      store.lookup('@rump/tcpip', tcpip.version, { integrity: net.integrity });
    } catch (e) {
      err = e;
    }
    expect(isRumpkgError(err, 'E_INTEGRITY_LOCK')).toBe(true);
    expect((err as Error).message).toContain('@rump/net@');

    const archive = archiveOf(entry!);
    const good = readFileSync(archive);
    writeFileSync(archive, good.subarray(0, good.length - 1));
    expect(store.lookup('@rump/tcpip', tcpip.version, { integrity: tcpip.integrity })).toBeUndefined();
    rmSync(archive);
    expect(store.lookup('@rump/tcpip', tcpip.version, { integrity: tcpip.integrity })).toBeUndefined();
    // files: false is whether index.json exists (the build's lookup: it checks every byte it reads)
    expect(store.lookup('@rump/tcpip', tcpip.version, { integrity: tcpip.integrity, files: false })).toBe(entry);
    expect(store.lookup('@rump/tcpip', tcpip.version, { integrity: `sha512-${Buffer.alloc(64).toString('base64')}`, files: false })).toBeUndefined();
    writeFileSync(archive, good);
    expect(store.lookup('@rump/tcpip', tcpip.version, { integrity: tcpip.integrity })).toBe(entry);
    // An entry written before index.json recorded sizes: a miss (the verified path handles it).
    // Once verified, it gets its sizes: index.json then has the bytes of a fresh entry.
    const indexPath = join(entry!, '..', 'index.json');
    const fresh = readFileSync(indexPath, 'utf8');
    const index = JSON.parse(fresh) as Record<string, unknown>;
    const { sizes, ...old } = index;
    expect(Object.keys(sizes as object)).toEqual(Object.keys(index.files as object));
    writeFileSync(indexPath, JSON.stringify(old));
    expect(store.lookup('@rump/tcpip', tcpip.version, { integrity: tcpip.integrity })).toBeUndefined();
    expect(await store.ensureUnpacked('@rump/tcpip', tcpip.version, { integrity: tcpip.integrity })).toBe(entry);
    expect(readFileSync(indexPath, 'utf8')).toBe(fresh);
    expect(store.lookup('@rump/tcpip', tcpip.version, { integrity: tcpip.integrity })).toBe(entry);
    expect((await store.verify()).problems).toEqual([]);
  }, 60_000);
});

describe('no-op install', () => {
  it('writes nothing and takes no lock; a truncated store file sends it down the full path, which repairs the entry', async () => {
    const dir = project();
    const first = await installProject(dir, { env });
    expect(first.lockWritten).toBe(true);
    const lockBytes = readFileSync(join(dir, 'rumpkg.lock'));
    const lockMtime = statSync(join(dir, 'rumpkg.lock')).mtimeMs;
    const again = await installProject(dir, { env });
    expect(again).toMatchObject({ lockWritten: false, changes: [], fetched: first.fetched });
    expect(readFileSync(join(dir, 'rumpkg.lock')).equals(lockBytes)).toBe(true);
    expect(statSync(join(dir, 'rumpkg.lock')).mtimeMs).toBe(lockMtime);
    expect(readdirSync(dir).sort()).toEqual(['app.c', 'rumpkg.json', 'rumpkg.lock']);

    const tcpip = await locked(dir, '@rump/tcpip');
    const archive = archiveOf(join(homePaths(home).store, storeKey(tcpip.integrity), 'pkg'));
    const good = readFileSync(archive);
    writeFileSync(archive, Buffer.concat([good, Buffer.from('x')]));
    const warnings: string[] = [];
    await installProject(dir, { env, reporter: { warn: (m) => warnings.push(m) } });
    expect(warnings.some((w) => w.includes('@rump/tcpip@') && w.includes('damaged'))).toBe(true);
    expect(readFileSync(archive).equals(good)).toBe(true);
    expect((await createStore(noSource, { home }).verify()).problems).toEqual([]);
  }, 60_000);
});

describe('no-op build', () => {
  it('never takes the verified path when the stamp matches; a same-size flipped byte in the store is caught by the stamp, evicted and refetched', async () => {
    const dir = project();
    await installProject(dir, { env });
    const built = await countingResolver(dir);
    const [r1] = await buildProject(dir, { resolveComponentDir: built.resolver });
    expect(r1!.upToDate).toBe(false);
    expect(built.calls()).toBeGreaterThan(0);
    const sha = sha256File(r1!.image);

    const noop = await countingResolver(dir);
    const [r2] = await buildProject(dir, { resolveComponentDir: noop.resolver });
    expect(r2).toMatchObject({ upToDate: true, image: r1!.image, sha256: r1!.sha256 });
    expect(noop.calls()).toBe(0);

    // A flipped byte of the same size: the lookup still hits, the stamp does not.
    const tcpip = await locked(dir, '@rump/tcpip');
    const archive = archiveOf(join(homePaths(home).store, storeKey(tcpip.integrity), 'pkg'));
    const good = readFileSync(archive);
    const bad = Buffer.from(good);
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 1;
    writeFileSync(archive, bad);
    expect(createStore(noSource, { home }).lookup('@rump/tcpip', tcpip.version, { integrity: tcpip.integrity })).toBeDefined();
    const warnings: string[] = [];
    const inner = await storeComponentDirResolver(dir, { env, reporter: { warn: (m) => warnings.push(m) } });
    const [r3] = await buildProject(dir, { resolveComponentDir: inner });
    expect(warnings.some((w) => w.includes('@rump/tcpip@') && w.includes('modified'))).toBe(true);
    expect(readFileSync(archive).equals(good)).toBe(true);
    // Verified, the inputs are the good bytes again: the image (built from them) is current.
    expect(r3).toMatchObject({ upToDate: true, sha256: r1!.sha256 });
    expect(sha256File(r3!.image)).toBe(sha);
    expect((await createStore(noSource, { home }).verify()).problems).toEqual([]);
    const after = await countingResolver(dir);
    expect((await buildProject(dir, { resolveComponentDir: after.resolver }))[0]!.upToDate).toBe(true);
    expect(after.calls()).toBe(0);
  }, 120_000);
});

describe('build over looked-up store entries', () => {
  it('links while the store check runs: a same-size flipped byte found then sends --force down the verified path, which evicts and refetches; progress is reported once', async () => {
    const dir = project();
    await installProject(dir, { env });
    const resolver = await storeComponentDirResolver(dir, { env });
    const [r1] = await buildProject(dir, { resolveComponentDir: resolver, force: true });
    const good = sha256File(r1!.image);

    const tcpip = await locked(dir, '@rump/tcpip');
    const archive = archiveOf(join(homePaths(home).store, storeKey(tcpip.integrity), 'pkg'));
    const bytes = readFileSync(archive);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length >> 1] = (flipped[flipped.length >> 1] ?? 0) ^ 1;
    writeFileSync(archive, flipped);
    const store = createStore(noSource, { home });
    // what the build's check of a looked-up entry says; the digest of bytes the caller read stands in for the file
    expect(store.lookup('@rump/tcpip', tcpip.version, { integrity: tcpip.integrity })).toBeDefined();
    expect(store.checkLookup('@rump/tcpip', tcpip.version, { integrity: tcpip.integrity })).toMatch(/^modified lib\//);
    const goodDigest = createHash('sha256').update(bytes).digest('hex');
    expect(store.checkLookup('@rump/tcpip', tcpip.version, { integrity: tcpip.integrity, known: new Map([[archive, goodDigest]]) })).toBeUndefined();
    // scope 'read': only the files read are checked — the damaged archive when it was read, not when only package.json was
    const pkgJson = join(archive, '..', '..', '..', 'package.json');
    const pkgDigest = createHash('sha256').update(readFileSync(pkgJson)).digest('hex');
    const flippedDigest = createHash('sha256').update(flipped).digest('hex');
    expect(store.checkLookup('@rump/tcpip', tcpip.version, { integrity: tcpip.integrity, known: new Map([[pkgJson, pkgDigest]]), scope: 'read' })).toBeUndefined();
    expect(store.checkLookup('@rump/tcpip', tcpip.version, { integrity: tcpip.integrity, known: new Map([[pkgJson, pkgDigest], [archive, flippedDigest]]), scope: 'read' })).toMatch(/^modified lib\//);
    expect(store.checkLookup('@rump/tcpip', tcpip.version, { integrity: tcpip.integrity, known: new Map([[join(archive, '..', 'x', '..', 'extra.a'), goodDigest]]), scope: 'read' })).toMatch(/^unexpected lib\/.*extra\.a$/);
    expect(store.checkLookup('@rump/tcpip', tcpip.version, { integrity: tcpip.integrity, known: new Map([[join(archive, '..', 'x', '..', basename(archive)), flippedDigest]]), scope: 'read' })).toMatch(/^modified /);

    const warnings: string[] = [];
    const info: string[] = [];
    const reporting = await storeComponentDirResolver(dir, { env, reporter: { warn: (m) => warnings.push(m) } });
    const [r2] = await buildProject(dir, { resolveComponentDir: reporting, force: true, reporter: { info: (m) => info.push(m) } });
    expect(warnings.some((w) => w.includes('@rump/tcpip@') && w.includes('modified'))).toBe(true);
    expect(readFileSync(archive).equals(bytes)).toBe(true);
    expect(r2).toMatchObject({ upToDate: false, sha256: r1!.sha256 });
    expect(sha256File(r2!.image)).toBe(good);
    // each step reported once, though a first link ran over the damaged entry
    const steps = info.map((m) => m.split(':')[0]);
    expect(steps).toEqual([...new Set(steps)]);
    expect(steps.filter((m) => m!.startsWith('link the image'))).toHaveLength(1);
    expect(store.checkLookup('@rump/tcpip', tcpip.version, { integrity: tcpip.integrity })).toBeUndefined();
    // another component's integrity, or an extra file in the entry: a problem, not an exception
    writeFileSync(join(archive, '..', 'extra.a'), 'x');
    expect(store.checkLookup('@rump/tcpip', tcpip.version, { integrity: tcpip.integrity })).toMatch(/^unexpected /);
    rmSync(join(archive, '..', 'extra.a'));
    expect(store.checkLookup('@rump/net', tcpip.version, { integrity: tcpip.integrity })).toMatch(/names @rump\/tcpip@/);
  }, 120_000);
});

/**
 * The launcher's replay (packager/early, replayNoop) through the shipped launcher: the CLI's own
 * code-cache report on stderr (RUMPKG_CODE_CACHE_REPORT=1) tells whether the CLI was loaded.
 */
describe("the launcher's replay of a command with nothing to do", () => {
  const launcher = join(import.meta.dirname, '../../dist/rumpkg.cjs');
  // Past the racy margin of a file system that keeps whole seconds: every identity is settled.
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, Number(RACY_MARGIN_WHOLE_SECONDS_NS / 1_000_000n) + 200));
  const rumpkg = (dir: string, args: string[], extra: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; cliLoaded: boolean } => {
    const r = spawnSync(process.execPath, [launcher, ...args], { cwd: dir, env: { ...env, NO_COLOR: '1', RUMPKG_CODE_CACHE_REPORT: '1', ...extra }, encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout, cliLoaded: r.stderr.includes('rumpkg: code cache') };
  };

  it('build: the next identical no-op build is answered by the launcher, byte for byte; a change to a source, the store, the command line or the environment goes to the CLI, which checks by content', async () => {
    const dir = project();
    expect(rumpkg(dir, ['install']).status).toBe(0);
    expect(rumpkg(dir, ['build']).status).toBe(0);
    await settle();
    const first = rumpkg(dir, ['build']);
    expect(first).toMatchObject({ status: 0, cliLoaded: true });
    expect(first.stdout).toMatch(/^\S+\/noop is up to date \(posix-x86_64\)\n$/);
    const memo = JSON.parse(readFileSync(noopMemoFile(homePaths(home).objects, dir, 'build', ['build']), 'utf8')) as NoopMemo;
    expect(memo.facts.map((f) => f[0])).toEqual(expect.arrayContaining([join(dir, 'app.c'), join(dir, 'rumpkg.lock'), launcher]));
    expect(statSync(noopMemoFile(homePaths(home).objects, dir, 'build', ['build'])).mode & 0o777).toBe(0o600);
    expect(rumpkg(dir, ['build'])).toEqual({ ...first, cliLoaded: false });

    // --json is a command line of its own; so is --verbose, which is never replayed.
    const json = rumpkg(dir, ['--json', 'build']);
    expect(json.cliLoaded).toBe(true);
    expect(rumpkg(dir, ['--json', 'build'])).toEqual({ ...json, cliLoaded: false });
    expect(rumpkg(dir, ['--verbose', 'build']).cliLoaded).toBe(true);
    expect(rumpkg(dir, ['--verbose', 'build']).cliLoaded).toBe(true);
    // Another environment that decides anything: the CLI.
    expect(rumpkg(dir, ['build'], { NO_COLOR: '' }).cliLoaded).toBe(true);

    // The same bytes written again: the CLI, which finds it up to date by content.
    writeFileSync(join(dir, 'app.c'), readFileSync(join(dir, 'app.c')));
    expect(rumpkg(dir, ['build'])).toEqual(first);
    await settle();
    rumpkg(dir, ['build']); // records again, if the one before could not (its check started within the racy margin)
    expect(rumpkg(dir, ['build'])).toEqual({ ...first, cliLoaded: false });

    // A same-size flipped byte in the store: the CLI, whose stamp catches it (evict, refetch).
    const tcpip = await locked(dir, '@rump/tcpip');
    const archive = archiveOf(join(homePaths(home).store, storeKey(tcpip.integrity), 'pkg'));
    const good = readFileSync(archive);
    const bad = Buffer.from(good);
    bad[0] = (bad[0] ?? 0) ^ 1;
    writeFileSync(archive, bad);
    const repaired = rumpkg(dir, ['build']);
    expect(repaired).toMatchObject({ status: 0, cliLoaded: true, stdout: first.stdout });
    expect(readFileSync(archive).equals(good)).toBe(true);

    // A changed source: the CLI builds.
    writeFileSync(join(dir, 'app.c'), `${HELLO_C}\n/* changed */\n`);
    const rebuilt = rumpkg(dir, ['build']);
    expect(rebuilt).toMatchObject({ status: 0, cliLoaded: true });
    expect(rebuilt.stdout).toContain('built ');
    expect(rumpkg(dir, ['build']).cliLoaded).toBe(true); // the image is another: the memo's facts no longer hold
  }, 120_000);

  it('install: replayed while the project, the configuration and the store entries keep their identities; a truncated store file goes to the CLI, which repairs the entry', async () => {
    const dir = project();
    expect(rumpkg(dir, ['install']).status).toBe(0);
    await settle();
    const first = rumpkg(dir, ['install']);
    expect(first).toMatchObject({ status: 0, cliLoaded: true });
    expect(first.stdout).toContain('install: lockfile unchanged');
    expect(rumpkg(dir, ['install'])).toEqual({ ...first, cliLoaded: false });
    expect(rumpkg(dir, ['i']).cliLoaded).toBe(true); // another command line
    const frozen = rumpkg(dir, ['install', '--frozen']);
    expect(rumpkg(dir, ['install', '--frozen'])).toEqual({ ...frozen, cliLoaded: false });
    expect(rumpkg(dir, ['install'])).toEqual({ ...first, cliLoaded: false }); // memos per command line

    const tcpip = await locked(dir, '@rump/tcpip');
    const archive = archiveOf(join(homePaths(home).store, storeKey(tcpip.integrity), 'pkg'));
    const good = readFileSync(archive);
    writeFileSync(archive, good.subarray(0, good.length - 1));
    expect(rumpkg(dir, ['install'])).toMatchObject({ status: 0, cliLoaded: true, stdout: first.stdout });
    expect(readFileSync(archive).equals(good)).toBe(true);
    // A configuration that appears: the CLI.
    await settle();
    expect(rumpkg(dir, ['install']).cliLoaded).toBe(true);
    expect(rumpkg(dir, ['install']).cliLoaded).toBe(false);
    writeFileSync(homePaths(home).config, '{}\n');
    try {
      expect(rumpkg(dir, ['install']).cliLoaded).toBe(true);
    } finally {
      rmSync(homePaths(home).config);
    }
  }, 120_000);

  it('a memo that does not fit (version, command, directory, environment, a malformed fact) is not replayed', () => {
    const dir = project();
    const file = join(dir, 'rumpkg.json');
    const objects = homePaths(home).objects;
    const memo: NoopMemo = { v: 1, command: 'build', cwd: dir, argv: ['build'], env: noopEnv(env), tty: false, facts: [factOf(file)], stdout: 'answer\n' };
    const write = (m: unknown): void => writeMemo(noopMemoFile(objects, dir, 'build', ['build']), m);
    write(memo);
    expect(replayNoop('build', ['build'], env, dir, false)).toBe('answer\n');
    expect(replayNoop('build', ['build'], env, dir, true)).toBeUndefined();
    expect(replayNoop('build', ['build'], { ...env, RUMPKG_X: '1' }, dir, false)).toBeUndefined();
    expect(replayNoop('build', ['build'], { ...env, RUMPKG_DEFERRED_CA_CERTS: '/x' }, dir, false)).toBe('answer\n');
    for (const bad of [{ ...memo, v: 2 }, { ...memo, command: 'install' }, { ...memo, cwd: '/' }, { ...memo, facts: [[file, '1']] }, { ...memo, facts: 'x' }, { ...memo, stdout: 1 }, null, []]) {
      write(bad);
      expect(replayNoop('build', ['build'], env, dir, false)).toBeUndefined();
    }
    writeFileSync(noopMemoFile(objects, dir, 'build', ['build']), '{');
    expect(replayNoop('build', ['build'], env, dir, false)).toBeUndefined();
  });
});
