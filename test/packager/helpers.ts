/**
 * Fixtures for the packager tests: the miniature corpus (built once per fingerprint and cached
 * under os.tmpdir()), a LockedTarget made by hand from its manifests (so these tests do not depend
 * on the resolver), and small projects written into temp dirs.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INIT_LEVEL_RUN_ORDER, packComponent, type ComponentManifest, type LockedComponent, type LockedTarget, type Lockfile, type ProjectManifest, type Target } from '../../components/index.js';
import { createRegistryClient, homePaths } from '../../registry/index.js';
import { corpusDir } from '../helpers/corpus.js';

export const VERSION = '10.0.0';
export const TARGET: Target = 'posix-x86_64';

/** The corpus root (`<root>/<version>/<bare name>/…`): one version for posix, from the shared corpus cache. */
export function corpusRoot(): Promise<string> {
  return corpusDir({ versions: [VERSION], targets: [TARGET] });
}

const bare = (name: string): string => name.replace(/^@[^/]+\//, '');

export function readManifest(root: string, name: string): ComponentManifest {
  return JSON.parse(readFileSync(join(root, VERSION, bare(name), 'package.json'), 'utf8')) as ComponentManifest;
}

/**
 * The closure of `names` over hard dependencies plus the posix platform package (for
 * `hypercall:17`), with link order (dependents before dependencies, platform last) and init order
 * (by the real level run order, then link order).
 */
export function lockedTargetFor(root: string, names: string[], target: Target = TARGET): LockedTarget {
  const manifests = new Map<string, ComponentManifest>();
  const requiredBy = new Map<string, Set<string>>();
  const visit = (name: string, by: string): void => {
    if (!requiredBy.has(name)) requiredBy.set(name, new Set());
    requiredBy.get(name)!.add(by);
    if (manifests.has(name)) return;
    const m = readManifest(root, name);
    manifests.set(name, m);
    for (const d of Object.keys(m.dependencies).sort()) visit(d, name);
  };
  for (const n of names) visit(n, '<project>');
  visit('@rump/rumpuser', '@rump/base');
  // Topological order: a component before everything it depends on.
  const order: string[] = [];
  const done = new Set<string>();
  const place = (n: string): void => {
    if (done.has(n)) return;
    done.add(n);
    for (const d of Object.keys(manifests.get(n)!.dependencies).sort()) place(d);
    order.unshift(n);
  };
  for (const n of [...manifests.keys()].sort().reverse()) if (n !== '@rump/rumpuser') place(n);
  const linkOrder = [...order.filter((n) => n !== '@rump/rumpuser'), '@rump/rumpuser'];
  const components: Record<string, LockedComponent> = {};
  for (const n of [...manifests.keys()].sort()) {
    const m = manifests.get(n)!;
    components[n] = {
      version: m.version,
      registry: '@rump',
      tarball: `${n}/-/${bare(n)}-${m.version}.tgz`,
      integrity: `sha512-${createHash('sha512').update(n).digest('base64')}`,
      license: m.license,
      lib: m.rump.lib,
      kind: m.rump.kind,
      initLevels: m.rump.initLevels,
      dependencies: m.dependencies,
      requires: Object.fromEntries(m.rump.requires.map((c) => [c, '@rump/rumpuser'])),
      provides: m.rump.provides,
      optionalDependencies: m.rump.optionalDependencies,
      requiredBy: [...requiredBy.get(n)!].sort(),
    };
  }
  const initOrder = INIT_LEVEL_RUN_ORDER.flatMap((level) =>
    linkOrder.filter((n) => components[n]!.initLevels.includes(level)).map((n) => ({ level, component: n, lib: components[n]!.lib })),
  );
  void target;
  return { platform: '@rump/rumpuser', components, linkOrder, initOrder };
}

export function componentDirsFor(root: string, lt: LockedTarget): Record<string, string> {
  return Object.fromEntries(Object.keys(lt.components).map((n) => [n, join(root, VERSION, bare(n))]));
}

export function tempDir(prefix = 'rumpkg-packager-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A maker of temporary directories that are removed after the calling file's tests (call it at the top level). */
export function tempDirsRemovedAfterAll(): (prefix: string) => string {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return (prefix) => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
}

export const HELLO_C = '#include <stdio.h>\nint main(int argc, char **argv) { (void)argc; (void)argv; printf("hello from the app\\n"); return 0; }\n';

/** Writes a project (rumpkg.json, rumpkg.lock, sources) into `dir`. */
export function writeProject(
  dir: string,
  root: string,
  options: { components?: string[]; image?: ProjectManifest['image']; files?: Record<string, string> } = {},
): { project: ProjectManifest; lockfile: Lockfile } {
  const components = options.components ?? ['@rump/tcpip', '@rump/virtif', '@rump/net-config'];
  const lt = lockedTargetFor(root, components);
  const project: ProjectManifest = {
    schemaVersion: 1,
    name: 'hello-net',
    targets: [TARGET],
    components: Object.fromEntries(components.map((c) => [c, '^10.0.0'])),
    registries: { '@rump': 'file:/nonexistent' },
    image: options.image ?? { sources: ['app.c'], net: [{ if: 'virt0', type: 'inet', method: 'static', addr: '10.0.0.2', mask: '24' }] },
  };
  const lockfile: Lockfile = { lockfileVersion: 1, revision: 1, requested: project.components, targets: { [TARGET]: lt } };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'rumpkg.json'), `${JSON.stringify(project, null, 2)}\n`);
  writeFileSync(join(dir, 'rumpkg.lock'), `${JSON.stringify(lockfile, null, 2)}\n`);
  for (const [p, c] of Object.entries(options.files ?? { 'app.c': HELLO_C })) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), c);
  }
  return { project, lockfile };
}

export function sha256File(p: string): string {
  return createHash('sha256').update(readFileSync(p)).digest('hex');
}

/** Runs an image and returns its stdout and status. */
export function runImage(image: string, args: string[] = []): { stdout: string; status: number } {
  try {
    return { stdout: execFileSync(image, args, { encoding: 'utf8', timeout: 10_000 }), status: 0 };
  } catch (e) {
    const err = e as { stdout?: string; status?: number };
    return { stdout: err.stdout ?? '', status: err.status ?? -1 };
  }
}

/** The components of examples/hello-net (net-config, tcpip, virtif and their closure), published into `home`'s embedded file registry. */
export async function publishHelloNet(home: string): Promise<void> {
  const root = await corpusRoot();
  const client = createRegistryClient({ home, registries: { '@rump': `file://${homePaths(home).registry}` } });
  const lt = lockedTargetFor(root, ['@rump/net-config', '@rump/tcpip', '@rump/virtif']);
  for (const name of Object.keys(lt.components)) await client.publish((await packComponent(join(root, VERSION, name.replace(/^@rump\//, '')))).data);
}
