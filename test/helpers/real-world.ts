/**
 * A user's world on the real NetBSD posix archives (../shared/netbsd/real), driven through the
 * shipped bin (dist/rumpkg.cjs) exactly as a user would: `rumpkg import archives` of the
 * unpacked build, `rumpkg publish` of every component into the embedded file registry of a
 * private RUMPKG_HOME, then projects made from examples/real/*.
 */
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { RealSet } from './real.js';

const run = promisify(execFile);
export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'dist/rumpkg.cjs');
export const REAL_VERSION = '7.99.34';
export const UPSTREAM_COMMIT = '82f3a6905f6a3a65ceb3a21046de62437f61e7dd';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RealWorld {
  work: string;
  env: NodeJS.ProcessEnv;
  /** The unpacked build (`lib/`, `include/`). */
  build: string;
  /** The imported component directories. */
  components: string;
  /** Runs the shipped bin in `cwd`. */
  rumpkg(args: string[], options?: { cwd?: string; timeoutMs?: number }): Promise<CliResult>;
  /** Copies examples/real into the world and returns the copy's path. */
  examples(): string;
  dispose(): void;
}

export async function rumpkgIn(env: NodeJS.ProcessEnv, args: string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  try {
    const r = await run(process.execPath, [BIN, ...args], { cwd: options.cwd ?? ROOT, env, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number | string; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? String(e) };
  }
}

/** Starts the shipped bin without waiting (two rump kernels at once). */
export function startRumpkg(env: NodeJS.ProcessEnv, args: string[], cwd: string): Promise<CliResult> {
  return new Promise((done) => {
    const c = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => c.kill('SIGKILL'), 120_000);
    c.on('close', (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** Imports and publishes the real posix set into a fresh home. */
export async function realWorld(set: RealSet, options: { importArgs?: string[] } = {}): Promise<RealWorld> {
  const work = mkdtempSync(join(tmpdir(), 'rumpkg-real-world-'));
  const env = { ...process.env, RUMPKG_HOME: join(work, 'home'), NO_COLOR: '1' };
  const build = await set.dir();
  const components = join(work, 'components');
  const rumpkg = (args: string[], o: { cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> => rumpkgIn(env, args, { cwd: work, ...o });
  const imp = await rumpkg([
    'import', 'archives', join(build, 'lib'),
    '--target', 'posix-x86_64', '--version', REAL_VERSION, '-o', components,
    '--upstream-commit', UPSTREAM_COMMIT,
    ...(options.importArgs ?? []),
  ]);
  if (imp.code !== 0) throw new Error(`import failed: ${imp.stderr}`);
  const dirs = (await readdir(components)).sort().map((d) => join(components, d));
  const pub = await rumpkg(['--quiet', 'publish', ...dirs]);
  if (pub.code !== 0) throw new Error(`publish failed: ${pub.stderr}`);
  return {
    work,
    env,
    build,
    components,
    rumpkg,
    examples: () => {
      const to = join(work, 'examples');
      cpSync(join(ROOT, 'examples/real'), to, { recursive: true });
      return to;
    },
    dispose: () => rmSync(work, { recursive: true, force: true }),
  };
}
