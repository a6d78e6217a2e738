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
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { findProgram } from '../build/index.js';

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
}

/** Starts `program args…` (QEMU) as described in the module head. */
export function spawnQemu(program: string, args: readonly string[], options: { path?: string; env?: NodeJS.ProcessEnv }): QemuProcess {
  const setpriv = findProgram('setpriv', options.path ?? process.env.PATH);
  const argv = setpriv === null ? [program, ...args] : [setpriv, '--pdeathsig', 'KILL', '--', program, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: options.env ?? process.env });
  const pid = child.pid;
  if (pid !== undefined) {
    running.add(pid);
    hook();
  }
  let released = false;
  return {
    child,
    release: () => {
      if (released || pid === undefined) return;
      released = true;
      killGroup(pid);
      running.delete(pid);
      if (running.size === 0) unhook();
    },
  };
}
