/**
 * The audit's fingerprints from a project's store (packager `knownFromLockfile` with the project
 * store resolver) and the archive facts cache, against a real store: the corpus components of
 * examples/hello-net published into an embedded file registry, installed and built. Then:
 * - an intact store: every looked-up entry is read once — its files hashed as they are read, the
 *   store's check given those digests — and the verified path is never taken; the audit confirms
 *   every component;
 * - a same-size flipped byte in a store archive (which the cheap lookup cannot see, and which
 *   changes the archive's fingerprints), or a missing archive: the check fails, the verified
 *   path evicts and refetches the entry, and the fingerprints are those of the good bytes
 *   (RELIABILITY IN-08); a file of the entry the audit does not read is not hashed by it;
 * - the archive facts cache (`<home>/cache/prints`), through the shipped bin (each run a fresh
 *   process): an entry is used only for the archive, format and tool it names and only when its
 *   body hashes to its header's digest — a flipped digit of one symbol hash, another archive,
 *   format or tool, a body that does not decode, or junk is recomputed, the report unchanged and
 *   the entry rewritten to the bytes of a fresh one.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { archivePrints, parseAr, parseElf, type LockedComponent, type Lockfile } from '../../components/index.js';
import { auditImage, buildProject, installProject, knownFromLockfile, readLock, storeComponentDirResolver } from '../../packager/index.js';
import { createStore, homePaths, storeKey } from '../../registry/index.js';
import { runNode } from '../helpers/cli.js';
import { HELLO_C, publishHelloNet, tempDirsRemovedAfterAll } from './helpers.js';

const T = 'posix-x86_64';
const BIN = resolve(import.meta.dirname, '../../dist/rumpkg.cjs');
const temp = tempDirsRemovedAfterAll();

let home: string;
let env: NodeJS.ProcessEnv;
let dir: string;
let lock: Lockfile;
let image: string;
const noSource = { tarball: (): Promise<Buffer> => Promise.reject(new Error('no fetching here')) };

beforeAll(async () => {
  home = join(temp('rumpkg-audit-store-home-'), 'home');
  env = { ...process.env, RUMPKG_HOME: home, NO_COLOR: '1' };
  await publishHelloNet(home);
  dir = temp('rumpkg-audit-store-project-');
  writeFileSync(
    join(dir, 'rumpkg.json'),
    `${JSON.stringify({ schemaVersion: 1, name: 'audited', targets: [T], components: { '@rump/net-config': '^10.0.0', '@rump/tcpip': '^10.0.0', '@rump/virtif': '^10.0.0' }, registries: {}, image: { sources: ['app.c'], net: [{ if: 'virt0', type: 'inet', method: 'static', addr: '10.0.0.2', mask: '24' }] } }, null, 2)}\n`,
  );
  writeFileSync(join(dir, 'app.c'), HELLO_C);
  await installProject(dir, { env });
  lock = (await readLock(dir))!;
  const [r] = await buildProject(dir, { resolveComponentDir: await storeComponentDirResolver(dir, { env }) });
  image = r!.image;
}, 180_000);

/** The project store resolver, counting the calls of its verified path. */
async function countingResolver(reporter?: { warn(m: string): void }): Promise<{ resolver: Parameters<typeof knownFromLockfile>[2]; calls: () => number; printsCache: string }> {
  const inner = await storeComponentDirResolver(dir, { env, ...(reporter === undefined ? {} : { reporter }) });
  let n = 0;
  const resolver = Object.assign((name: string, l: LockedComponent) => (n++, inner(name, l)), { lookup: inner.lookup, checkLookup: inner.checkLookup });
  return { resolver, calls: () => n, printsCache: inner.printsCache! };
}

function tcpipArchive(): string {
  const locked = lock.targets[T]!.components['@rump/tcpip']!;
  const lib = join(homePaths(home).store, storeKey(locked.integrity), 'pkg', 'lib', T);
  return join(lib, readdirSync(lib).find((f) => f.endsWith('.a'))!);
}

describe('fingerprints from the store', () => {
  it('an intact store is read without the verified path; a same-size flipped byte is caught, evicted and refetched, and the fingerprints are the good ones', async () => {
    const first = await countingResolver();
    const known = await knownFromLockfile(lock, T, first.resolver, { printsCache: first.printsCache });
    expect(first.calls()).toBe(0);
    expect(known.map((k) => k.name).sort()).toEqual(Object.keys(lock.targets[T]!.components).sort());
    expect(known.every((k) => k.defined !== undefined && k.members !== undefined)).toBe(true);
    const report = await auditImage(image, { knownComponents: known, lockfile: lock });
    expect(report.components.map((c) => c.evidence)).toEqual(report.components.map(() => 'confirmed'));

    // The first byte of a function of the archive: its fingerprints change, its size does not.
    const archive = tcpipArchive();
    const good = readFileSync(archive);
    const member = parseAr(good, { file: archive }).members.find((m) => parseElf(m.data, { file: m.name }).symbols.some((s) => s.type === 'func' && s.size > 0))!;
    const elf = parseElf(member.data, { file: member.name });
    const fn = elf.symbols.find((s) => s.type === 'func' && s.size > 0)!;
    const at = member.offset + elf.sections[fn.section as number]!.offset + Number(fn.value);
    const bad = Buffer.from(good);
    bad[at] = (bad[at] as number) ^ 0x01;
    expect(archivePrints(bad, { file: archive })).not.toEqual(archivePrints(good, { file: archive }));
    writeFileSync(archive, bad);
    const locked = lock.targets[T]!.components['@rump/tcpip']!;
    expect(createStore(noSource, { home }).lookup('@rump/tcpip', locked.version, { integrity: locked.integrity })).toBeDefined();

    const warnings: string[] = [];
    const second = await countingResolver({ warn: (m) => warnings.push(m) });
    const again = await knownFromLockfile(lock, T, second.resolver, { printsCache: second.printsCache });
    expect(second.calls()).toBe(1);
    expect(warnings.some((w) => w.includes('@rump/tcpip@') && w.includes('modified'))).toBe(true);
    expect(readFileSync(archive).equals(good)).toBe(true);
    expect(again).toEqual(known);
    expect((await createStore(noSource, { home }).verify()).problems).toEqual([]);

    // A missing archive: the check fails for it too (package.json names it), and the verified
    // path brings it back; without that, the fingerprint would silently have no symbols.
    rmSync(archive);
    const third = await countingResolver({ warn: (m) => warnings.push(m) });
    expect(await knownFromLockfile(lock, T, third.resolver, { printsCache: third.printsCache })).toEqual(known);
    expect(third.calls()).toBe(1);
    expect(readFileSync(archive).equals(good)).toBe(true);

    // What the audit does not read is not hashed: a file of the entry no fingerprint is made of
    // (here an extra one) leaves the looked-up entry in use; the build and `rumpkg verify`, which
    // read or hash it, are the ones to say.
    const extra = join(archive, '..', 'unread.h');
    writeFileSync(extra, 'x');
    const fourth = await countingResolver();
    expect(await knownFromLockfile(lock, T, fourth.resolver, { printsCache: fourth.printsCache })).toEqual(known);
    expect(fourth.calls()).toBe(0);
    expect((await createStore(noSource, { home }).verify()).problems.map((p) => p.problem)).toEqual([expect.stringMatching(/^unexpected lib\//)]);
    rmSync(extra);
  }, 120_000);
});

describe('the archive facts cache', () => {
  const audit = (): Promise<{ code: number | null; stdout: string; stderr: string }> => runNode([BIN, 'audit', image, '--json'], { cwd: dir, env });

  it('is used only when intact and for its archive, format and tool; anything else is recomputed and rewritten', async () => {
    const cache = join(home, 'cache', 'prints');
    rmSync(cache, { recursive: true, force: true });
    const first = await audit();
    expect(first.code, first.stderr).toBe(0);
    const doc = JSON.parse(first.stdout) as { components: Array<{ evidence: string; content?: unknown }> };
    expect(doc.components.length).toBeGreaterThan(0);
    expect(doc.components.every((c) => c.evidence === 'confirmed' && c.content !== undefined)).toBe(true);
    // one entry per locked archive, named by the sha256 of its bytes
    const archives = Object.values(lock.targets[T]!.components).map((l) => {
      const lib = join(homePaths(home).store, storeKey(l.integrity), 'pkg', 'lib', T);
      return createHash('sha256').update(readFileSync(join(lib, readdirSync(lib).find((f) => f.endsWith('.a'))!))).digest('hex');
    });
    const entries = readdirSync(cache).sort();
    expect(entries).toEqual(archives.map((h) => `${h}-v2.facts`).sort());
    // the biggest entry: the one with the most symbol hashes to poison
    const entry = join(cache, entries.map((e) => [e, readFileSync(join(cache, e)).length] as const).sort((a, b) => b[1] - a[1])[0]![0]);
    const fresh = readFileSync(entry);
    const nl = fresh.indexOf(10);
    const header = JSON.parse(fresh.subarray(0, nl).toString('utf8')) as Record<string, unknown>;
    const body = fresh.subarray(nl + 1).toString('utf8');
    const write = (h: Record<string, unknown>, b: string): void => writeFileSync(entry, `${JSON.stringify(h)}\n${b}`);
    const sealed = (b: string): Record<string, unknown> => ({ ...header, body: createHash('sha256').update(b).digest('hex') });
    // every symbol hash of the entry made another one, in a body that decodes: used, it would make members "modified"
    const poisoned = body.replace(/"[0-9a-f]{32}"/g, (h) => `"${h[1] === '0' ? '1' : '0'}${h.slice(2)}`);
    expect(poisoned).not.toBe(body);

    const variants: Array<[string, () => void]> = [
      ['a flipped digit in one symbol hash (the header as it was)', () => write(header, body.replace(/"([0-9a-f])([0-9a-f]{31})"/, (_, c: string, rest: string) => `"${c === '0' ? '1' : '0'}${rest}"`))],
      ['poisoned hashes, sealed, claiming another archive', () => write({ ...sealed(poisoned), sha256: '1'.repeat(64) }, poisoned)],
      ['poisoned hashes, sealed, another format', () => write({ ...sealed(poisoned), format: 1 }, poisoned)],
      ['poisoned hashes, sealed, another tool', () => write({ ...sealed(poisoned), tool: 'rumpkg@0.0.0-other' }, poisoned)],
      ['a sealed body that does not decode (a bind no symbol has)', () => {
        const b = body.replace(/,"(?:global|local)",/, ',"bogus",');
        write(sealed(b), b);
      }],
      ['junk', () => writeFileSync(entry, '{"format":')],
    ];
    for (const [what, poison] of variants) {
      poison();
      const r = await audit();
      expect(r.stdout, what).toBe(first.stdout);
      expect(readFileSync(entry).equals(fresh), what).toBe(true);
    }
    // the oracle of the variants: a sealed entry of this archive, format and tool is used as it is
    write(sealed(poisoned), poisoned);
    const used = await audit();
    expect(used.code).toBe(3);
    expect((JSON.parse(used.stdout) as { components: Array<{ evidence: string }> }).components.some((c) => c.evidence === 'modified')).toBe(true);
  }, 120_000);
});
