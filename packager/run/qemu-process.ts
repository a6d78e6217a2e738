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
 * - `bootQemu` is the boot both conventions share once their QEMU command is planned: QEMU taken
 *   or started, its console read through the convention's session (console.ts), stopped on the
 *   guest's last line, settled with the guest's status or E_RUN.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Duplex, Readable } from 'node:stream';
import { RumpkgError } from '../../components/index.js';
import { findProgram } from '../build/index.js';
import { STOP_SIGNALS, killGroup } from '../early/index.js';
import { openConsole, type ConsoleOutcome, type ConsoleSpec, type ConsoleTimings } from './console.js';
import type { EarlyQemu } from './early-qemu.js';

/** The processes groups of running QEMUs, killed when this process exits or is signalled. */
const running = new Set<number>();
let hooked = false;
function onSignal(signal: NodeJS.Signals): void {
  for (const pid of running) killGroup(pid);
  running.clear();
  unhook();
  process.kill(process.pid, signal);
}
const onExit = (): void => {
  for (const pid of running) killGroup(pid);
};
function hook(): void {
  if (hooked) return;
  hooked = true;
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  process.on('exit', onExit);
}
function unhook(): void {
  if (!hooked) return;
  hooked = false;
  for (const s of STOP_SIGNALS) process.off(s, onSignal);
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

/**
 * How a boot started QEMU: the command (qemuCommand's), whether it took the launcher's early QEMU,
 * the files whose bytes decided the command (the image), the programs it looked up on PATH, and
 * how its console is read — what `rumpkg run`'s early boot records (early-qemu.ts). Disk images
 * are not among the files: the guest writes them, and only their being files is checked, before
 * the early QEMU is taken.
 */
export interface BootRecord {
  command: string[];
  early: boolean;
  paths: string[];
  tools: string[];
  /** How its console is read (console.ts): what the launcher needs to finish the run itself. */
  console: ConsoleSpec;
}

/** A boot that ended with the guest's status (`bootQemu`). */
export interface QemuBoot {
  status: number;
  /** The console passed on, when no stream was given. */
  stdout: string;
  stderr: string;
  /** QEMU was the launcher's (early-qemu.ts). */
  early: boolean;
  timings: ConsoleTimings;
  /** glue: the firmware output held back before the platform's first line. */
  firmware?: string;
}

/**
 * Boots the guest `spec` describes with `program` (QEMU, found on PATH) and its arguments: takes
 * the launcher's early QEMU when it runs this very command (claimEarlyQemu) — or the outcome of a
 * guest the launcher already ran to its end (early-qemu.ts finishEarly) — else starts QEMU (paused
 * until `gate` resolves). The console goes through the convention's session to `stdout` (collected
 * when absent), QEMU's stderr to `stderr`; QEMU is stopped on the guest's last line and at the
 * deadline. Resolves with the guest's status; rejects with E_RUN (the session's outcome), the
 * gate's reason, or a start error.
 */
export async function bootQemu(
  program: string,
  args: readonly string[],
  spec: ConsoleSpec,
  options: { path?: string; env?: NodeJS.ProcessEnv; gate?: () => Promise<unknown>; stdout?: NodeJS.WritableStream; stderr?: NodeJS.WritableStream; booting?: (boot: BootRecord) => void },
): Promise<QemuBoot> {
  const command = qemuCommand(program, args, options.path);
  const early = await claimEarlyQemu(command);
  const started = early === undefined ? Date.now() : Date.now() - (performance.now() - early.startedAt);
  options.booting?.({ command, early: early !== undefined, paths: [spec.image], tools: [spec.emulator[0]!, 'setpriv'], console: spec });
  const session = openConsole(spec);
  let stdout = '';
  const emit = (text: string): void => {
    if (text === '') return;
    if (options.stdout === undefined) stdout += text;
    else options.stdout.write(text);
  };
  const settle = (outcome: ConsoleOutcome, stderr: string): QemuBoot => {
    if (!outcome.ok) throw new RumpkgError('E_RUN', outcome.message, { context: outcome.context, hint: outcome.hint });
    return { status: outcome.status, stdout, stderr, early: early !== undefined, timings: outcome.timings, ...(outcome.firmware === undefined ? {} : { firmware: outcome.firmware }) };
  };
  // The launcher ran this guest to its end and passed its console on.
  if (early?.ended !== undefined) return settle(early.ended.outcome, early.ended.stderr);
  const qemu = spawnQemu(program, args, {
    ...(options.path === undefined ? {} : { path: options.path }),
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.gate === undefined ? {} : { gate: options.gate }),
    ...(early === undefined ? {} : { early }),
  });
  qemu.child.stdout.on('data', (d: Buffer) => {
    if (session.terminal) return;
    emit(session.data(d.toString('latin1'), Date.now() - started));
    if (session.terminal) qemu.release();
  });
  const end = await superviseQemu(qemu, {
    timeoutMs: spec.timeoutMs,
    ...(options.stderr === undefined ? {} : { stderr: options.stderr }),
    startError: (e) => new RumpkgError('E_RUN', `cannot start ${program}: ${(e as NodeJS.ErrnoException).code ?? e.message}`, { context: { path: spec.image, target: spec.target }, cause: e }),
  });
  const { rest, outcome } = session.end(end, Date.now() - started);
  emit(rest);
  return settle(outcome, end.stderr);
}
