/**
 * Starting QEMU so that it is never left running: every guest rumpkg boots goes through
 * `spawnQemu`, whatever its platform's convention.
 *
 * - QEMU runs in its own process group (`detached`); `release()` sends that group SIGKILL. The
 *   caller releases on the guest's end, on timeout and on any error.
 * - While any QEMU runs, SIGINT/SIGTERM/SIGHUP of this process kill every group first and are
 *   then re-raised; the `exit` event kills them too.
 * - A SIGKILL of rumpkg cannot be caught: QEMU is started through util-linux
 *   `setpriv --pdeathsig KILL` (when present), so the kernel kills it then. Without setpriv it
 *   still ends when its console pipe breaks at the guest's next output.
 * - With a `gate` (a check the caller has yet to run, such as `rumpkg run`'s up-to-date check),
 *   QEMU starts paused (`-S`) with a QMP monitor on a socket it inherits as fd 3, and only then
 *   is the gate called: QEMU's own start-up (loading the kernel, setting up devices, ~40 ms here)
 *   runs beside the check, and no guest instruction runs before the gate resolved (QMP `cont`).
 *   A rejected gate kills QEMU, and the supervision rejects with the gate's reason.
 * - A QEMU the launcher started before the CLI loaded (`rumpkg run`'s early boot, early-qemu.ts)
 *   is taken instead of starting one only when its command is exactly the one this boot would
 *   run (`claimEarlyQemu`); the facts it was started on were the gate. From then on it is
 *   supervised, killed and released like any other.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Duplex, Readable } from 'node:stream';
import { findProgram } from '../build/index.js';
import type { EarlyQemu } from './early-qemu.js';

/** The processes groups of running QEMUs, killed when this process exits or is signalled. */
const running = new Set<number>();
let hooked = false;
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
function onSignal(signal: NodeJS.Signals): void {
  for (const pid of running) killGroup(pid);
  running.clear();
  unhook();
  process.kill(process.pid, signal);
}
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const onExit = (): void => {
  for (const pid of running) killGroup(pid);
};
function hook(): void {
  if (hooked) return;
  hooked = true;
  for (const s of SIGNALS) process.on(s, onSignal);
  process.on('exit', onExit);
}
function unhook(): void {
  if (!hooked) return;
  hooked = false;
  for (const s of SIGNALS) process.off(s, onSignal);
  process.off('exit', onExit);
}

export interface QemuProcess {
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** Kills QEMU's process group (idempotent). */
  release(): void;
  /** Resolved once the guest may run (at once without a gate); rejected with the gate's reason. */
  gated: Promise<void>;
}

/** The QMP commands that let a paused guest run. */
const QMP_CONT = '{"execute":"qmp_capabilities"}\n{"execute":"cont"}\n';

/** The command that starts `program args…` without a gate: through setpriv when it is on PATH. */
export function qemuCommand(program: string, args: readonly string[], path?: string): string[] {
  const setpriv = findProgram('setpriv', path ?? process.env.PATH);
  return setpriv === null ? [program, ...args] : [setpriv, '--pdeathsig', 'KILL', '--', program, ...args];
}

/**
 * The QEMU the launcher started early for this process (packager/run/early-qemu.ts), taken when it
 * runs exactly `command` (qemuCommand's); else it is killed, and waited for so that its forwarded
 * host ports and disk images are free again. Undefined when none was started or it was not taken.
 */
export async function claimEarlyQemu(command: readonly string[]): Promise<EarlyQemu | undefined> {
  const launcher = globalThis as { __rumpkgEarlyQemu?: EarlyQemu };
  const early = launcher.__rumpkgEarlyQemu;
  if (early === undefined) return undefined;
  launcher.__rumpkgEarlyQemu = undefined;
  if (early.spawn.length === command.length && early.spawn.every((a, i) => a === command[i])) {
    early.adopt();
    return early;
  }
  await early.discard();
  return undefined;
}

/**
 * Starts `program args…` (QEMU) as described in the module head — or takes `early`, the QEMU the
 * launcher started with that very command (claimEarlyQemu): its start was the gate, which is then
 * not called.
 */
export function spawnQemu(program: string, args: readonly string[], options: { path?: string; env?: NodeJS.ProcessEnv; gate?: () => Promise<unknown>; early?: EarlyQemu }): QemuProcess {
  const gate = options.early === undefined ? options.gate : undefined;
  const paused = gate === undefined ? [] : ['-S', '-chardev', 'socket,id=rumpkg-qmp,fd=3', '-mon', 'chardev=rumpkg-qmp,mode=control'];
  const argv = [...qemuCommand(program, args, options.path), ...paused];
  const child = (options.early?.child ??
    spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe', ...(gate === undefined ? [] : ['pipe' as const])], detached: true, env: options.env ?? process.env })) as unknown as ChildProcessByStdio<null, Readable, Readable>;
  const pid = child.pid;
  if (pid !== undefined) {
    running.add(pid);
    hook();
  }
  let released = false;
  const release = (): void => {
    if (released || pid === undefined) return;
    released = true;
    killGroup(pid);
    running.delete(pid);
    if (running.size === 0) unhook();
  };
  let gated = Promise.resolve();
  if (gate !== undefined) {
    // fd 3 is a socket (libuv makes a socketpair for a child's pipe); QMP's greeting and events are read and dropped.
    const qmp = child.stdio[3] as unknown as Duplex;
    qmp.on('error', () => undefined);
    qmp.resume();
    let started: Promise<unknown>;
    try {
      started = gate(); // now that QEMU is starting
    } catch (e) {
      started = Promise.reject(e);
    }
    gated = started.then(
      () => {
        qmp.write(QMP_CONT);
      },
      (e: unknown) => {
        release();
        throw e;
      },
    );
    gated.catch(() => undefined); // the supervision reports it
  }
  return { child, release, gated };
}

/** How a supervised QEMU ended. */
export interface QemuEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** It was killed at the deadline. */
  timedOut: boolean;
  /** Its stderr (the first 64 KiB). */
  stderr: string;
}

/**
 * Bounds a started QEMU: keeps (and passes on) its stderr, kills it at `timeoutMs`, and settles
 * once it is gone — rejected with `startError(e)` when it could not start, with the gate's reason
 * when the gate rejected, else with how it ended.
 * Its process group is released in every case. The console (stdout) is the caller's to read.
 */
export function superviseQemu(q: QemuProcess, options: { timeoutMs: number; stderr?: NodeJS.WritableStream; startError: (e: Error) => Error }): Promise<QemuEnd> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    let timedOut = false;
    q.child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += d.toString('utf8');
      options.stderr?.write(d);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      q.release();
    }, options.timeoutMs);
    q.child.on('error', (e) => {
      clearTimeout(timer);
      q.release();
      reject(options.startError(e));
    });
    q.child.on('close', (code, signal) => {
      clearTimeout(timer);
      q.release();
      // A rejected gate killed QEMU: its reason is the outcome.
      q.gated.then(() => resolve({ code, signal, timedOut, stderr }), reject);
    });
  });
}
