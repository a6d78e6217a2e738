/**
 * Fixtures for the reliability sweep (test/RELIABILITY-MAP.md): a rumpkg home whose embedded
 * file registry holds a small set of fixture components (packed on the fly), projects in temp
 * dirs, tree hashes, and the compiled CLI spawned as a child process (killable).
 *
 * The components: @rump/app-x → @rump/mid-y → @rump/leaf-z, plus @rump/solo-w, each at 1.0.0 and
 * 1.1.0; `payload` bytes per archive make fetch/unpack slow enough to kill a run midway.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createFileStorage } from '../../registry/index.js';
import { randomBytes } from 'node:crypto';
import { packComponent } from '../../components/index.js';
import { afterAll } from 'vitest';
import { componentDir, hashTree, tempDir as fixtureTempDir, type FixtureComponent } from '../registry/client-fixtures.js';

export { hashTree };

const created: string[] = [];
/** A fresh directory under os.tmpdir(), removed after the test file. */
export function tempDir(prefix: string): string {
  const d = fixtureTempDir(prefix);
  created.push(d);
  return d;
}
afterAll(() => {
  for (const d of created.splice(0)) {
    try {
      rmSync(d, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // best effort: a leftover temp dir must not fail the tests
    }
  }
});

export const BIN = resolve(import.meta.dirname, '../../dist/cli/bin.js');

/** Throws unless the built CLI (dist/rumpkg-bundle.cjs) is at least as new as every product source. */
export function assertDistFresh(): void {
  const root = resolve(import.meta.dirname, '../..');
  const out = join(root, 'dist/rumpkg-bundle.cjs');
  if (!existsSync(out)) throw new Error('dist/ is missing: run npm run build first');
  const built = statSync(out).mtimeMs;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && statSync(p).mtimeMs > built) throw new Error(`dist/ is stale (${p} is newer): run npm run build first`);
    }
  };
  for (const m of ['schemas', 'components', 'resolver', 'registry', 'packager', 'cli']) walk(join(root, m));
}

/** `count` independent components `@rump/c00`… at 1.0.0 with `payload` random bytes each. */
export function wideSet(count: number, payload: number): FixtureComponent[] {
  return Array.from({ length: count }, (_, i) => ({ name: `@rump/c${String(i).padStart(2, '0')}`, version: '1.0.0', payload }));
}

export function fixtureSet(payload = 0, versions = ['1.0.0', '1.1.0']): FixtureComponent[] {
  return versions.flatMap((v): FixtureComponent[] => [
    { name: '@rump/leaf-z', version: v, payload },
    { name: '@rump/mid-y', version: v, dependencies: { '@rump/leaf-z': '^1.0.0' }, payload },
    { name: '@rump/app-x', version: v, dependencies: { '@rump/mid-y': '^1.0.0' }, payload },
    { name: '@rump/solo-w', version: v, payload },
  ]);
}

/** Component directories for `components` under `root` (random, incompressible archive payloads). */
export function writeComponentDirs(root: string, components: FixtureComponent[]): string[] {
  return components.map((c) => {
    const dir = componentDir(root, { ...c, payload: 0 });
    if ((c.payload ?? 0) > 0) {
      // Incompressible archives (random bytes after the ar magic): real unpack work, no gzip-ratio trip.
      for (const t of c.targets ?? ['posix-x86_64']) {
        const lib = `librump_${c.name.replace(/^@[^/]+\//, '').replace(/[^a-z0-9]/g, '_')}.a`;
        writeFileSync(join(dir, 'lib', t, lib), Buffer.concat([Buffer.from('!<arch>\n'), randomBytes(c.payload ?? 0)]));
      }
    }
    return dir;
  });
}

const templates = new Map<string, Promise<string>>();

/**
 * A rumpkg home (under a fresh temp root) whose default registry holds `components`; built once
 * per key and copied, so each caller gets its own home.
 */
export async function registryHome(key = 'default', components: FixtureComponent[] = fixtureSet()): Promise<{ root: string; home: string; env: NodeJS.ProcessEnv }> {
  let t = templates.get(key);
  if (t === undefined) {
    t = (async () => {
      const root = tempDir(`rel-tpl-${key}`);
      const storage = createFileStorage(join(root, 'home', 'registry'));
      const src = join(root, 'src');
      mkdirSync(src);
      for (const dir of writeComponentDirs(src, components)) await storage.publish((await packComponent(dir)).data);
      return join(root, 'home');
    })();
    templates.set(key, t);
  }
  const tpl = await t;
  const root = tempDir('rel');
  // verbatimSymlinks: the registry links each name to a generation by a relative link, kept as is.
  cpSync(tpl, join(root, 'home'), { recursive: true, verbatimSymlinks: true });
  const home = join(root, 'home');
  return { root, home, env: { ...process.env, RUMPKG_HOME: home } };
}

/** Writes a project (rumpkg.json only) requesting `components`. */
export function writeProject(dir: string, components: Record<string, string>, name = 'rel-project'): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'rumpkg.json'),
    `${JSON.stringify({ schemaVersion: 1, name, targets: ['posix-x86_64'], components, registries: {}, image: { entry: [], net: [], block: [] } }, null, 2)}\n`,
  );
  return dir;
}

export interface CliRun {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `node dist/cli/bin.js ARGS`; with `killAfterMs`, SIGKILLs it after that long. */
export function runCli(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; killAfterMs?: number; uid?: number; gid?: number }): Promise<CliRun> {
  return new Promise((res, rej) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = options.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.killAfterMs);
    child.on('error', rej);
    child.on('close', (code, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      res({ pid: child.pid ?? -1, code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

/** Parses the `--json` error the CLI prints on stderr or stdout (`{error:{code,…}}` or `{code,…}`). */
export function errorCode(r: CliRun): string | undefined {
  for (const text of [r.stderr, r.stdout]) {
    for (const line of text.split('\n').reverse()) {
      const m = /\bE_[A-Z_0-9]+\b/.exec(line);
      if (m !== null) return m[0];
    }
  }
  return undefined;
}

/** Every file under `dir` (relative paths), sorted; symbolic links are followed, and a dangling
 *  one (a writer killed between symlink(2) and rename(2) leaves one in its staging area) is listed as a file. */
export function listFiles(dir: string, rel = ''): string[] {
  let names: string[];
  try {
    names = readdirSync(join(dir, rel)).sort();
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const r = rel === '' ? n : `${rel}/${n}`;
    const isDir = statSync(join(dir, r), { throwIfNoEntry: false })?.isDirectory() ?? false;
    return isDir ? [`${r}/`, ...listFiles(dir, r)] : [r];
  });
}

export const readText = (p: string): string | undefined => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
};
