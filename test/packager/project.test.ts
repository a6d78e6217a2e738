/**
 * The project flow end to end on the embedded file registry: init → add → lock → fetch, with
 * prefer-locked resolution, --frozen, update/outdated, why/tree, yanked versions and failures
 * that leave rumpkg.json and rumpkg.lock byte-identical.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRumpkgError, packComponent, type Lockfile } from '../../components/index.js';
import {
  addComponents,
  initProject,
  installProject,
  outdatedComponents,
  planTree,
  planWhy,
  readLock,
  removeComponents,
  updateComponents,
} from '../../packager/index.js';
import { createFileStorage } from '../../registry/index.js';
import { corpusDir } from '../helpers/corpus.js';

let work: string;
let env: NodeJS.ProcessEnv;

const sha = async (p: string): Promise<string> => createHash('sha256').update(await readFile(p)).digest('hex');

async function newProject(name: string, targets = ['posix-x86_64']): Promise<string> {
  const dir = join(work, name);
  await rm(dir, { recursive: true, force: true });
  await cp(join(work, 'skeleton'), dir, { recursive: true });
  await initProject(dir, { name, targets });
  return dir;
}

async function expectCode(p: Promise<unknown>, code: string): Promise<Error> {
  try {
    await p;
  } catch (e) {
    expect(isRumpkgError(e) ? e.code : e).toBe(code);
    return e as Error;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

const versionsOf = (lock: Lockfile, target = 'posix-x86_64'): Record<string, string> =>
  Object.fromEntries(Object.entries(lock.targets[target]?.components ?? {}).map(([n, c]) => [n, c.version]));

beforeAll(async () => {
  const corpus = await corpusDir();
  work = await mkdtemp(join(tmpdir(), 'rumpkg-project-'));
  const home = join(work, 'home');
  env = { ...process.env, RUMPKG_HOME: home };
  await cp(join(import.meta.dirname, '../../examples/hello-net/app.c'), join(work, 'skeleton', 'app.c'));
  const storage = createFileStorage(join(home, 'registry'));
  for (const version of (await readdir(corpus)).sort()) {
    for (const name of (await readdir(join(corpus, version))).sort()) {
      const packed = await packComponent(join(corpus, version, name));
      await storage.publish(packed.data);
    }
  }
}, 600_000);

afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe('rumpkg add', () => {
  it('resolves the closure, pins bare names to ^chosen, writes a deterministic lockfile and fetches', async () => {
    const dir = await newProject('a1');
    const r = await addComponents(dir, ['tcpip', 'virtif'], { env });
    expect(r.manifest.components).toEqual({ '@rump/tcpip': '^10.1.0', '@rump/virtif': '^10.1.0' });
    expect(Object.keys(versionsOf(r.lockfile)).sort()).toEqual(
      ['@rump/base', '@rump/net', '@rump/net-net', '@rump/rumpuser', '@rump/tcpip', '@rump/virtif'].sort(),
    );
    expect(r.lockfile.targets['posix-x86_64']?.platform).toBe('@rump/rumpuser');
    expect(r.fetched).toBe(6);
    const lockBytes = await readFile(join(dir, 'rumpkg.lock'), 'utf8');
    expect(lockBytes.endsWith('}\n')).toBe(true);
    expect(lockBytes).not.toMatch(/https?:\/\//);

    // Regenerated from the same inputs in a fresh project → byte-identical.
    const dir2 = await newProject('a1-again');
    await cp(join(dir, 'rumpkg.json'), join(dir2, 'rumpkg.json'));
    await installProject(dir2, { env });
    expect(await readFile(join(dir2, 'rumpkg.lock'), 'utf8')).toBe(lockBytes);

    // Why and tree work from the lockfile alone.
    const lock = (await readLock(dir)) as Lockfile;
    const chains = planWhy(lock, 'posix-x86_64', '@rump/net');
    expect(chains).toContainEqual(['<project>', '@rump/tcpip', '@rump/net']);
    expect(chains.every((c) => c[0] === '<project>' && c.at(-1) === '@rump/net')).toBe(true);
    const tree = planTree(lock, 'posix-x86_64', r.manifest.components);
    expect(tree.map((n) => n.name)).toEqual(['@rump/tcpip', '@rump/virtif']);
  });

  it('maps NetBSD library aliases to component names, with a note', async () => {
    const dir = await newProject('a2');
    const r = await addComponents(dir, ['librumpnet_netinet'], { env });
    expect(Object.keys(r.manifest.components)).toEqual(['@rump/tcpip']);
    expect(r.notes.join('\n')).toMatch(/librumpnet_netinet/);
  });

  it('moves only what it must: locked versions stay unless they block the request', async () => {
    const dir = await newProject('a3');
    await addComponents(dir, ['tcpip@^9.0.0'], { env });
    const before = versionsOf((await readLock(dir)) as Lockfile);
    expect(before['@rump/tcpip']).toBe('9.0.0');
    const r = await addComponents(dir, ['virtif'], { env });
    const after = versionsOf(r.lockfile);
    for (const [name, v] of Object.entries(before)) expect(after[name]).toBe(v);
    expect(after['@rump/virtif']?.startsWith('9.')).toBe(true);
  });

  it('a capability nobody provides on the target fails with an explanation; files stay byte-identical', async () => {
    const dir = await newProject('a4');
    await addComponents(dir, ['tcpip'], { env });
    const jsonBefore = await sha(join(dir, 'rumpkg.json'));
    const lockBefore = await sha(join(dir, 'rumpkg.lock'));
    const e = await expectCode(addComponents(dir, ['virtio-net'], { env }), 'E_RESOLVE');
    expect(e.message).toContain('@rump/virtio-net');
    expect(e.message).toContain('bus:pci');
    expect(e.message).toContain('posix-x86_64');
    expect(await sha(join(dir, 'rumpkg.json'))).toBe(jsonBefore);
    expect(await sha(join(dir, 'rumpkg.lock'))).toBe(lockBefore);
  });

  it('conflicts are explained (sockin vs tcpip)', async () => {
    const dir = await newProject('a5');
    await addComponents(dir, ['tcpip'], { env });
    const e = await expectCode(addComponents(dir, ['sockin'], { env }), 'E_RESOLVE');
    expect(e.message).toMatch(/sockin/);
    expect(e.message).toMatch(/conflicts/);
  });

  it('remove drops the component and what only it needed', async () => {
    const dir = await newProject('a6');
    await addComponents(dir, ['tcpip', 'virtif'], { env });
    const r = await removeComponents(dir, ['virtif'], { env });
    expect(r.manifest.components).toEqual({ '@rump/tcpip': '^10.1.0' });
    expect(versionsOf(r.lockfile)['@rump/virtif']).toBeUndefined();
    await expectCode(removeComponents(dir, ['virtif'], { env }), 'E_NOT_FOUND');
  });
});

describe('rumpkg install', () => {
  it('--frozen refuses a lockfile that does not satisfy rumpkg.json and never writes it', async () => {
    const dir = await newProject('i1');
    await addComponents(dir, ['tcpip'], { env });
    const lockBefore = await sha(join(dir, 'rumpkg.lock'));
    const frozen = await installProject(dir, { env, frozen: true });
    expect(frozen.lockWritten).toBe(false);
    const m = JSON.parse(await readFile(join(dir, 'rumpkg.json'), 'utf8')) as { components: Record<string, string> };
    m.components['@rump/virtif'] = '^10.0.0';
    await writeFile(join(dir, 'rumpkg.json'), JSON.stringify(m, null, 2));
    const e = await expectCode(installProject(dir, { env, frozen: true }), 'E_LOCKFILE');
    expect(e.message).toMatch(/virtif/);
    expect(await sha(join(dir, 'rumpkg.lock'))).toBe(lockBefore);
    // Without --frozen it re-locks, keeping what was locked.
    const r = await installProject(dir, { env });
    expect(r.lockWritten).toBe(true);
    expect(versionsOf(r.lockfile)['@rump/virtif']).toBe('10.1.0');
  });

  it('--offline with an empty store says what is missing', async () => {
    const dir = await newProject('i2');
    await addComponents(dir, ['tcpip'], { env });
    const emptyHome = { ...env, RUMPKG_HOME: join(work, 'home-empty') };
    // The empty home's default registry is empty too: resolution fails before any fetch.
    await expect(installProject(dir, { env: emptyHome, offline: true })).rejects.toSatisfy((e: unknown) => isRumpkgError(e));
  });
});

describe('rumpkg update / outdated', () => {
  it('prefers the locked version until told to update', async () => {
    const dir = await newProject('u1');
    await addComponents(dir, ['tcpip@10.0.0'], { env });
    const m = JSON.parse(await readFile(join(dir, 'rumpkg.json'), 'utf8')) as { components: Record<string, string> };
    m.components['@rump/tcpip'] = '^10.0.0';
    await writeFile(join(dir, 'rumpkg.json'), JSON.stringify(m, null, 2));
    const kept = await installProject(dir, { env });
    expect(versionsOf(kept.lockfile)['@rump/tcpip']).toBe('10.0.0');
    const rows = await outdatedComponents(dir, { env });
    expect(rows.find((r) => r.name === '@rump/tcpip')).toMatchObject({ current: '10.0.0', wanted: '10.1.0', latest: '10.1.0' });
    const up = await updateComponents(dir, ['tcpip'], { env });
    expect(versionsOf(up.lockfile)['@rump/tcpip']).toBe('10.1.0');
    expect(up.changes).toContainEqual({ target: 'posix-x86_64', name: '@rump/tcpip', from: '10.0.0', to: '10.1.0' });
  });
});
