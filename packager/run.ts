/**
 * Running an image. `posix-*` images are host executables: `runImage` spawns it, streams its
 * stdout/stderr into the given streams and resolves with its exit status; a bounded timeout kills
 * it (SIGKILL) and is reported as `timedOut`. Freestanding targets (hw, xen) boot under QEMU;
 * that belongs to the hw toolchain rows and is refused here with E_TARGET.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { stat } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { RumpkgError, fsError, type Target } from '../components/index.js';
import { parseTarget } from './targets.js';

export interface RunImageOptions {
  target: Target;
  args?: string[];
  /** Kill the image after this many milliseconds (default: no limit). */
  timeoutMs?: number;
  /** Where the image's output goes; when absent it is collected into the result. */
  stdout?: Writable;
  stderr?: Writable;
  env?: NodeJS.ProcessEnv;
}

export interface ImageRunResult {
  /** The exit status; 128 + signal number when it died of a signal. */
  status: number;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Collected output when no stream was given. */
  stdout: string;
  stderr: string;
}

export async function runImage(imagePath: string, options: RunImageOptions): Promise<ImageRunResult> {
  const t = parseTarget(options.target);
  if (t.platform !== 'posix') {
    throw new RumpkgError('E_TARGET', `rumpkg run cannot start ${options.target} images yet`, {
      context: { target: options.target, path: imagePath },
      hint: 'only posix-* images run on the host',
    });
  }
  try {
    const st = await stat(imagePath);
    if (!st.isFile()) throw new RumpkgError('E_RUN', `${imagePath} is not a file`, { context: { path: imagePath } });
  } catch (e) {
    if (e instanceof RumpkgError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new RumpkgError('E_NOT_FOUND', `no image at ${imagePath}`, { context: { path: imagePath }, hint: 'build it first: rumpkg build' });
    }
    throw fsError(e, imagePath, 'stat image');
  }
  return new Promise((resolve, reject) => {
    const child = spawn(imagePath, options.args ?? [], { stdio: ['inherit', 'pipe', 'pipe'], env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (options.stdout === undefined ? (stdout += d.toString('utf8')) : options.stdout.write(d)));
    child.stderr.on('data', (d: Buffer) => (options.stderr === undefined ? (stderr += d.toString('utf8')) : options.stderr.write(d)));
    let timedOut = false;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, options.timeoutMs);
    child.on('error', (e) => {
      if (timer !== undefined) clearTimeout(timer);
      reject(new RumpkgError('E_RUN', `cannot execute ${imagePath}: ${(e as NodeJS.ErrnoException).code ?? e.message}`, { context: { path: imagePath }, cause: e }));
    });
    child.on('close', (code, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      const signo = signal === null ? 0 : (constants.signals[signal] ?? 0);
      resolve({ status: code ?? 128 + signo, signal, timedOut, stdout, stderr });
    });
  });
}
