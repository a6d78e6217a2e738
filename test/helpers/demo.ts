/**
 * The demo world the picture tests look at (scripts/demo.sh in miniature): the miniature corpus's
 * newest release published into a file registry under a private RUMPKG_HOME, and a copy of
 * examples/hello-virtio (hw-x86_64 + hw-riscv64: tcpip, virtio-net, net-config) installed from it.
 * Built once per test file (vitest isolates files); `releaseDemoWorld()` in `afterAll` removes it.
 * Treat the result as read-only (copy the project to change it).
 */
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { packComponent, type Lockfile } from '../../components/index.js';
import { CORPUS_VERSIONS } from '../../scripts/corpus/index.js';
import { installProject, readLock } from '../../packager/index.js';
import { createFileStorage } from '../../registry/index.js';
import { corpusDir } from './corpus.js';

export const DEMO_EXAMPLE = resolve(import.meta.dirname, '../../examples/hello-virtio');
export const DEMO_VERSION = CORPUS_VERSIONS[CORPUS_VERSIONS.length - 1] as string;

export interface DemoWorld {
  /** A scratch directory that holds everything below. */
  work: string;
  /** The environment with RUMPKG_HOME set to the demo home. */
  env: NodeJS.ProcessEnv;
  /** The file registry directory (the home's embedded registry). */
  registry: string;
  /** The installed copy of examples/hello-virtio (rumpkg.json + rumpkg.lock). */
  project: string;
  lock: Lockfile;
}

let memo: Promise<DemoWorld> | undefined;

/** The demo world (see the module head); built on first use. */
export function demoWorld(): Promise<DemoWorld> {
  memo ??= build();
  return memo;
}

/** Removes the demo world (if one was built). */
export async function releaseDemoWorld(): Promise<void> {
  const w = memo;
  memo = undefined;
  if (w === undefined) return;
  const world = await w.catch(() => undefined);
  if (world !== undefined) await rm(world.work, { recursive: true, force: true });
}

async function build(): Promise<DemoWorld> {
  const corpus = await corpusDir();
  const work = await mkdtemp(join(tmpdir(), 'rumpkg-demo-world-'));
  const env = { ...process.env, RUMPKG_HOME: join(work, 'home') };
  const registry = join(work, 'home', 'registry');
  const storage = createFileStorage(registry);
  for (const name of (await readdir(join(corpus, DEMO_VERSION))).sort()) {
    await storage.publish((await packComponent(join(corpus, DEMO_VERSION, name))).data);
  }
  const project = join(work, 'hello-virtio');
  await cp(DEMO_EXAMPLE, project, { recursive: true });
  await installProject(project, { env });
  return { work, env, registry, project, lock: (await readLock(project)) as Lockfile };
}
