/**
 * The project flow end to end on the embedded file registry: init → add → lock → fetch, with
 * prefer-locked resolution, --frozen, update/outdated, why/tree, yanked versions and failures
 * that leave rumpkg.json and rumpkg.lock byte-identical.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRumpkgError, packComponent, type Lockfile } from '../../components/index.js';
import {
  addComponents,
  buildProject,
  initProject,
  installProject,
  outdatedComponents,
  planTree,
  planWhy,
  planWhyReasons,
  projectRequests,
  readLock,
  readProject,
  removeComponents,
  storeComponentDirResolver,
  updateComponents,
} from '../../packager/index.js';
import { createFileStorage } from '../../registry/index.js';
import { corpusDir } from '../helpers/corpus.js';
import { expectCode } from '../helpers/process.js';

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
  // An NFS client like the real librumpfs_nfs: it reaches the network through net-net or sockin.
  const nfs = join(work, 'nfs-client');
  const targets: Record<string, { archive: string }> = {};
  for (const t of ['posix-x86_64', 'hw-x86_64']) {
    await mkdir(join(nfs, 'lib', t), { recursive: true });
    await writeFile(join(nfs, 'lib', t, 'librumpfs_nfsclient.a'), '!<arch>\n');
    targets[t] = { archive: `lib/${t}/librumpfs_nfsclient.a` };
  }
  const manifest = {
    name: '@rump/nfs-client',
    version: '10.1.0',
    license: 'BSD-2-Clause',
    description: 'an NFS client that needs one of two network stacks (test fixture)',
    dependencies: { '@rump/net': '^10.0.0', '@rump/vfs': '^10.0.0' },
    rump: { schemaVersion: 1, lib: 'librumpfs_nfsclient', faction: 'vfs', anyOf: [['@rump/sockin', '@rump/net-net']], targets },
  };
  await writeFile(join(nfs, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await storage.publish((await packComponent(nfs)).data);
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

describe('per-target components (rumpkg.json targetComponents)', () => {
  it('the README example: a component that cannot serve one target fails with a --target hint; nothing is written', async () => {
    const dir = await newProject('t1', ['posix-x86_64', 'hw-x86_64']);
    const jsonBefore = await sha(join(dir, 'rumpkg.json'));
    const e = (await expectCode(addComponents(dir, ['tcpip', 'virtio-net'], { env }), 'E_RESOLVE')) as Error & { hint?: string; context: Record<string, unknown> };
    expect(e.message).toBe(
      [
        '@rump/virtio-net cannot be used for posix-x86_64 (it resolves for hw-x86_64); for posix-x86_64:',
        'Because every version of @rump/virtio-net requires bus:virtio which is provided only by @rump/virtio-pci, every version of @rump/virtio-net requires @rump/virtio-pci.',
        'And because every version of @rump/virtio-pci requires bus:pci, every version of @rump/virtio-net requires bus:pci.',
        'So, because no component for posix-x86_64 provides bus:pci (@rump/pci provides it but not for posix-x86_64) and t1 depends on @rump/virtio-net, version solving failed.',
      ].join('\n'),
    );
    expect(e.hint).toBe('to request it for the targets it serves only, run rumpkg add virtio-net --target hw-x86_64');
    expect(e.context.serves).toEqual(['hw-x86_64']);
    expect(await sha(join(dir, 'rumpkg.json'))).toBe(jsonBefore);
    await expect(readFile(join(dir, 'rumpkg.lock'))).rejects.toThrow();
  });

  it('add tcpip (every target) then add virtio-net --target hw-x86_64: rumpkg.json, lockfile, tree, why, outdated', async () => {
    const dir = await newProject('t2', ['posix-x86_64', 'hw-x86_64']);
    await addComponents(dir, ['tcpip'], { env });
    const r = await addComponents(dir, ['virtio-net'], { env, targets: ['hw-x86_64'] });
    expect(r.notes).toEqual([]);
    const json = JSON.parse(await readFile(join(dir, 'rumpkg.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(['schemaVersion', 'name', 'targets', 'components', 'targetComponents', 'registries', 'image']);
    expect(json.components).toEqual({ '@rump/tcpip': '^10.1.0' });
    expect(json.targetComponents).toEqual({ 'hw-x86_64': { '@rump/virtio-net': '^10.1.0' } });
    const lock = r.lockfile;
    expect(lock.revision).toBe(1);
    expect(lock.requested).toEqual({ '@rump/tcpip': '^10.1.0' });
    expect(lock.targetRequested).toEqual({ 'hw-x86_64': { '@rump/virtio-net': '^10.1.0' } });
    expect(versionsOf(lock, 'posix-x86_64')['@rump/virtio-net']).toBeUndefined();
    expect(Object.keys(versionsOf(lock, 'hw-x86_64'))).toEqual(expect.arrayContaining(['@rump/tcpip', '@rump/virtio-net', '@rump/virtio-pci', '@rump/pci']));
    expect(lock.targets['hw-x86_64']?.components['@rump/virtio-net']?.requiredBy).toEqual(['<project>']);
    expect(r.changes.filter((c) => c.target === 'posix-x86_64')).toEqual([]);
    // install --frozen accepts it as it is.
    expect((await installProject(dir, { env, frozen: true })).lockWritten).toBe(false);

    const manifest = await readProject(dir);
    expect(projectRequests(manifest, 'hw-x86_64')).toEqual({ '@rump/tcpip': '^10.1.0', '@rump/virtio-net': '^10.1.0' });
    expect(projectRequests(manifest, 'posix-x86_64')).toEqual({ '@rump/tcpip': '^10.1.0' });
    const hwTree = planTree(lock, 'hw-x86_64', projectRequests(manifest, 'hw-x86_64'));
    expect(hwTree.map((n) => [n.name, n.via, n.targetOnly ?? false])).toEqual([
      ['@rump/tcpip', '^10.1.0', false],
      ['@rump/virtio-net', '^10.1.0', true],
    ]);
    expect(planTree(lock, 'posix-x86_64', projectRequests(manifest, 'posix-x86_64')).map((n) => n.name)).toEqual(['@rump/tcpip']);
    expect(planWhyReasons(lock, 'hw-x86_64', '@rump/pci')).toEqual(['rumpkg.json requests @rump/virtio-net for hw-x86_64 only']);
    expect(planWhyReasons(lock, 'hw-x86_64', '@rump/net')).toEqual(['rumpkg.json requests @rump/virtio-net for hw-x86_64 only']);
    expect(planWhyReasons(lock, 'posix-x86_64', '@rump/net')).toEqual([]);

    // outdated reads the per-target range.
    const m = JSON.parse(await readFile(join(dir, 'rumpkg.json'), 'utf8')) as { targetComponents: Record<string, Record<string, string>> };
    m.targetComponents['hw-x86_64'] = { '@rump/virtio-net': '10.0.0' };
    await writeFile(join(dir, 'rumpkg.json'), JSON.stringify(m, null, 2));
    const e = await expectCode(installProject(dir, { env, frozen: true }), 'E_LOCKFILE');
    expect(e.message).toContain('@rump/virtio-net is requested for hw-x86_64 only as 10.0.0 but locked for ^10.1.0');
    await installProject(dir, { env });
    m.targetComponents['hw-x86_64'] = { '@rump/virtio-net': '^10.0.0' };
    await writeFile(join(dir, 'rumpkg.json'), JSON.stringify(m, null, 2));
    await installProject(dir, { env });
    const rows = await outdatedComponents(dir, { env });
    expect(rows.find((x) => x.name === '@rump/virtio-net')).toEqual({ name: '@rump/virtio-net', target: 'hw-x86_64', current: '10.0.0', wanted: '10.1.0', latest: '10.1.0', range: '^10.0.0' });
  });

  it('build links each target from its own closure', async () => {
    const dir = await newProject('t3', ['posix-x86_64', 'hw-x86_64']);
    await addComponents(dir, ['tcpip'], { env });
    await addComponents(dir, ['virtio-net'], { env, targets: ['hw-x86_64'] });
    const plans = await buildProject(dir, { dryRun: true, resolveComponentDir: await storeComponentDirResolver(dir, { env }) });
    const components = Object.fromEntries(plans.map((p) => [p.target, p.plan.inputs.flatMap((i) => (i.component === undefined ? [] : [i.component]))]));
    expect(components['hw-x86_64']).toEqual(expect.arrayContaining(['@rump/tcpip', '@rump/virtio-net']));
    expect(components['posix-x86_64']).toContain('@rump/tcpip');
    expect(components['posix-x86_64']).not.toContain('@rump/virtio-net');
  });

  it('remove --target, add for every target, and the mistakes they refuse', async () => {
    const dir = await newProject('t4', ['posix-x86_64', 'hw-x86_64']);
    await addComponents(dir, ['tcpip', 'virtif'], { env, targets: ['posix-x86_64'] });
    // Already for some targets → for every target, with a note.
    const every = await addComponents(dir, ['tcpip'], { env });
    expect(every.notes).toEqual(['@rump/tcpip is now requested for every target (it was for posix-x86_64 only)']);
    expect(every.manifest.components).toEqual({ '@rump/tcpip': '^10.1.0' });
    expect(every.manifest.targetComponents).toEqual({ 'posix-x86_64': { '@rump/virtif': '^10.1.0' } });
    // Already for every target → not narrowed silently.
    const e = await expectCode(addComponents(dir, ['tcpip'], { env, targets: ['hw-x86_64'] }), 'E_USAGE');
    expect(e.message).toBe('@rump/tcpip is already requested for every target of t4');
    expect((e as Error & { hint?: string }).hint).toBe('to keep it off a target instead, run rumpkg remove tcpip --target <that target>');
    // remove --target of a component for every target keeps it for the others.
    const narrowed = await removeComponents(dir, ['tcpip'], { env, targets: ['posix-x86_64'] });
    expect(narrowed.notes).toEqual(['@rump/tcpip stays requested for hw-x86_64 only']);
    expect(narrowed.manifest.components).toEqual({});
    expect(narrowed.manifest.targetComponents).toEqual({ 'hw-x86_64': { '@rump/tcpip': '^10.1.0' }, 'posix-x86_64': { '@rump/virtif': '^10.1.0' } });
    expect(versionsOf(narrowed.lockfile)['@rump/tcpip']).toBeUndefined();
    await expectCode(removeComponents(dir, ['tcpip'], { env, targets: ['posix-x86_64'] }), 'E_NOT_FOUND');
    await expectCode(removeComponents(dir, ['tcpip'], { env, targets: ['xen-x86_64'] }), 'E_TARGET');
    // remove without --target removes it everywhere; with nothing per target left, the key goes.
    const gone = await removeComponents(dir, ['tcpip', 'virtif'], { env });
    expect(gone.manifest.targetComponents).toBeUndefined();
    expect(gone.lockfile.targetRequested).toBeUndefined();
    expect(gone.lockfile.revision).toBe(0);
    expect(await readFile(join(dir, 'rumpkg.json'), 'utf8')).not.toContain('targetComponents');
  });

  it('rumpkg.json mistakes: an unknown target, a name for every target and for one', async () => {
    const dir = await newProject('t5', ['posix-x86_64']);
    const m = JSON.parse(await readFile(join(dir, 'rumpkg.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(dir, 'rumpkg.json'), JSON.stringify({ ...m, components: { tcpip: '^10.0.0' }, targetComponents: { 'hw-x86_64': { tcpip: '^10.0.0' } } }));
    const e = await expectCode(readProject(dir), 'E_MANIFEST');
    expect(e.message).toContain('/targetComponents/hw-x86_64: hw-x86_64 is not one of the project\'s targets (posix-x86_64)');
    expect(e.message).toContain('/targetComponents/hw-x86_64/tcpip: tcpip is requested for every target (components) and for hw-x86_64');
    await writeFile(join(dir, 'rumpkg.json'), JSON.stringify({ ...m, components: { tcpip: '^10.0.0' }, targetComponents: { 'posix-x86_64': { '@rump/tcpip': '^10.0.0' } } }));
    const q = await expectCode(readProject(dir), 'E_MANIFEST');
    expect(q.message).toContain('@rump/tcpip is requested for every target (components) and for posix-x86_64 (targetComponents)');
  });
});

describe('the README example through the shipped CLI (dist/rumpkg.cjs)', () => {
  it('init with two targets, add tcpip, add virtio-net --target hw-x86_64, tree, why', async () => {
    const bin = join(import.meta.dirname, '../../dist/rumpkg.cjs');
    const dir = join(work, 'readme');
    await mkdir(dir, { recursive: true });
    const rumpkg = (...args: string[]): { code: number | null; stdout: string; stderr: string } => {
      const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, env: { ...env, NO_COLOR: '1' }, encoding: 'utf8' });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    expect(rumpkg('init', '--target', 'posix-x86_64', '--target', 'hw-x86_64').code).toBe(0);
    const both = rumpkg('add', 'tcpip', 'virtio-net');
    expect(both.code).toBe(1);
    expect(both.stderr.split('\n')).toContain('  hint: to request it for the targets it serves only, run rumpkg add virtio-net --target hw-x86_64');
    expect(rumpkg('add', 'tcpip').code).toBe(0);
    expect(rumpkg('add', 'virtio-net', '--target', 'hw-x86_64').code).toBe(0);
    const tree = rumpkg('tree', '--target', 'hw-x86_64');
    expect(tree.stdout.split('\n')).toContain('└── @rump/virtio-net@10.1.0 (^10.1.0, hw-x86_64 only)');
    expect(rumpkg('tree', '--target', 'posix-x86_64').stdout).not.toContain('virtio-net');
    expect(rumpkg('why', 'pci').stdout).toBe(
      [
        '@rump/pci (hw-x86_64)',
        '  <project> → @rump/virtio-net → @rump/virtio-pci → @rump/pci',
        '  rumpkg.json requests @rump/virtio-net for hw-x86_64 only',
        '  hw-x86_64 is served by platform @rump/platform-hw-x86_64@10.1.0 (rumpkg glue)',
        '',
      ].join('\n'),
    );
    const json = JSON.parse(rumpkg('--json', 'why', 'pci').stdout) as { reasons: Record<string, string[]> };
    expect(json.reasons).toEqual({ 'hw-x86_64': ['rumpkg.json requests @rump/virtio-net for hw-x86_64 only'] });
  });
});

describe('any-of requirements in a project', () => {
  it('add pulls in one member, says which and why, per target; why and tree repeat it from the lockfile', async () => {
    const dir = await newProject('y1', ['posix-x86_64', 'hw-x86_64']);
    const r = await addComponents(dir, ['nfs-client'], { env });
    expect(r.notes).toEqual([
      'hw-x86_64: @rump/nfs-client needs one of @rump/net-net or @rump/sockin; @rump/net-net was chosen because @rump/sockin does not ship hw-x86_64',
      'posix-x86_64: @rump/nfs-client needs one of @rump/net-net or @rump/sockin; @rump/net-net was chosen because it comes first by name; @rump/sockin would do as well',
    ]);
    for (const t of ['posix-x86_64', 'hw-x86_64']) expect(versionsOf(r.lockfile, t)['@rump/net-net']).toBe('10.1.0');
    // add resolved once; a fresh resolution of the pinned rumpkg.json writes the same bytes.
    const fresh = await newProject('y1-again', ['posix-x86_64', 'hw-x86_64']);
    await cp(join(dir, 'rumpkg.json'), join(fresh, 'rumpkg.json'));
    await installProject(fresh, { env });
    expect(await readFile(join(fresh, 'rumpkg.lock'), 'utf8')).toBe(await readFile(join(dir, 'rumpkg.lock'), 'utf8'));
    const lock = (await readLock(dir)) as Lockfile;
    expect(lock.targets['hw-x86_64']?.components['@rump/nfs-client']?.anyOf).toEqual({
      '@rump/net-net|@rump/sockin': { chosen: '@rump/net-net', because: 'only', others: { '@rump/sockin': { reason: 'target' } } },
    });
    expect(planWhy(lock, 'hw-x86_64', '@rump/net-net')).toEqual([['<project>', '@rump/nfs-client', '@rump/net-net']]);
    expect(planWhyReasons(lock, 'hw-x86_64', '@rump/net-net')).toEqual([
      '@rump/nfs-client needs one of @rump/net-net or @rump/sockin; @rump/net-net was chosen because @rump/sockin does not ship hw-x86_64',
    ]);
    const tree = planTree(lock, 'posix-x86_64', r.manifest.components);
    expect(tree[0]?.children.map((c) => [c.name, c.via])).toContainEqual(['@rump/net-net', 'one of @rump/net-net | @rump/sockin']);
    // A re-resolution that keeps the choice says nothing again.
    const again = await addComponents(dir, ['tcpip'], { env });
    expect(again.notes).toEqual([]);
    expect(planWhyReasons(again.lockfile, 'posix-x86_64', '@rump/net-net')).toEqual([
      '@rump/nfs-client needs one of @rump/net-net or @rump/sockin; @rump/net-net was chosen because @rump/tcpip needs it anyway',
    ]);
  });

  it('a member requested by the project satisfies the group', async () => {
    const dir = await newProject('y2', ['posix-x86_64']);
    const r = await addComponents(dir, ['sockin', 'nfs-client'], { env });
    expect(versionsOf(r.lockfile)['@rump/net-net']).toBeUndefined();
    expect(r.notes).toEqual(['posix-x86_64: @rump/nfs-client needs one of @rump/net-net or @rump/sockin; @rump/sockin was chosen because rumpkg.json requests it']);
  });
});
