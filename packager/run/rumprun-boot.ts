/**
 * Booting an image of the rumprun convention (its manifest says `boot.convention: "rumprun"`,
 * see packager/build/rumprun.ts) under QEMU, and reading what it says on its serial console.
 *
 * The QEMU command (`planRumprunQemu`, pure): the image with `-kernel` (a multiboot image QEMU
 * loads directly), its configuration as JSON with `-append`, `-nodefaults -vga none` (with a VGA
 * device the platform writes its console there and the serial port stays silent), the serial
 * console on stdout, one virtio-net device on QEMU's user network with the image's
 * `config.forward` as `hostfwd` rules bound to 127.0.0.1, and one virtio block device per
 * `config.block` entry (its `source`, relative to the project directory). The user network is
 * `restrict=on` (the guest reaches neither the host nor the outside; forwarded connections still
 * work) unless the image forwards a UDP port: libslirp 4.7 drops a restricted guest's UDP replies
 * to a forwarded datagram (measured: TCP answers arrive, UDP answers never do), so such an image
 * gets an unrestricted user network — NAT to the outside, as any QEMU user network without
 * `restrict`.
 *
 * The console (`createRumprunConsole`, a pure line reader): the platform never powers off — after
 * the program ends it prints `halted` and waits forever — so rumpkg stops QEMU itself on the
 * terminal lines:
 *   `rump kernel bare metal bootstrap`      the platform is up (the first line)
 *   `=== calling "NAME" main() ===`         a program starts
 *   `=== main() of "NAME" returned N ===`   it returned N
 *   `=== _exit(0) called ===`, `=== ERROR: _exit(N) called ===`   the status the kernel halts with
 *   `=== bootstrap failed`                  configuration failed before any program ran
 *   `panic: MESSAGE`                        a kernel panic (then `halted` follows)
 *   `PANIC: MESSAGE`                        the platform halts on a fatal error (the first one counts)
 *   `halted`                                terminal: QEMU is killed, the run resolves
 *   `FATAL TRAP: …`                         terminal: a CPU exception (no `halted` follows)
 * The status is the `_exit` status, else the last `returned` status. `halted` without either, a
 * panic, a failed bootstrap or a trap → E_RUN carrying the telling console line; no terminal line
 * within the timeout → E_RUN, QEMU killed. QEMU ending by itself (e.g. a host port already in use)
 * → E_RUN with its own message.
 */
import { stat } from 'node:fs/promises';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import type { Writable } from 'node:stream';
import { RumpkgError, fsError, type ImageManifest, type Target } from '../../components/index.js';
import { findProgram, parseTarget, renderRumprunCmdline } from '../build/index.js';
import { claimEarlyQemu, qemuCommand, spawnQemu, superviseQemu } from './qemu-process.js';

/** Emulator per arch for rumprun images. */
const EMULATOR: Record<string, { command: string; debianPackage: string; netDevice: string }> = {
  x86_64: { command: 'qemu-system-x86_64', debianPackage: 'qemu-system-x86', netDevice: 'virtio-net-pci' },
};

/** Guest memory: the rump kernel gets about half (128 MiB → ~62 MiB of kernel memory). */
const RUMPRUN_MEMORY_MB = 128;

type RumprunManifest = ImageManifest & { boot: NonNullable<ImageManifest['boot']> };

interface RumprunQemuPlan {
  command: string[];
  debianPackage: string;
  /** The kernel command line (also in `command`, after -append). */
  cmdline: string;
  /** Host files attached as virtio block devices, in order (absolute). */
  drives: string[];
}

/** QEMU's `-drive file=` takes commas doubled. */
const driveFile = (p: string): string => p.replace(/,/g, ',,');

/** The QEMU command that boots a rumprun image. Pure. */
export function planRumprunQemu(imagePath: string, manifest: RumprunManifest, options: { args?: readonly string[]; cwd?: string; memoryMb?: number } = {}): RumprunQemuPlan {
  const t = parseTarget(manifest.target);
  const emu = EMULATOR[t.arch];
  if (t.platform !== 'hw' || emu === undefined) {
    throw new RumpkgError('E_TARGET', `rumpkg cannot boot ${manifest.target} images of the rumprun convention`, { context: { target: manifest.target, path: imagePath }, hint: 'bootable: hw-x86_64' });
  }
  const cmdline = renderRumprunCmdline(manifest, options.args ?? []);
  const forward = manifest.config.forward ?? [];
  const restrict = forward.some((f) => f.proto === 'udp') ? 'off' : 'on';
  const netdev = [`user,id=n0,restrict=${restrict}`, ...forward.map((f) => `hostfwd=${f.proto}:127.0.0.1:${f.host}-:${f.guest}`)].join(',');
  const drives = manifest.config.block.map((b) => (isAbsolute(b.source) ? b.source : resolvePath(options.cwd ?? process.cwd(), b.source)));
  return {
    command: [
      emu.command,
      '-nodefaults',
      '-no-reboot',
      '-vga', 'none',
      '-display', 'none',
      '-serial', 'stdio',
      '-m', String(options.memoryMb ?? RUMPRUN_MEMORY_MB),
      '-netdev', netdev,
      '-device', `${emu.netDevice},netdev=n0`,
      ...drives.flatMap((d) => ['-drive', `if=virtio,format=raw,file=${driveFile(d)}`]),
      '-kernel', imagePath,
      '-append', cmdline,
    ],
    debianPackage: emu.debianPackage,
    cmdline,
    drives,
  };
}

/** What the console said so far. */
export interface RumprunConsoleState {
  platformUp: boolean;
  /** Programs whose main() was called, in order. */
  called: string[];
  /** Last `main() … returned N`. */
  returned: number | null;
  /** The `_exit` status. */
  exit: number | null;
  panic: string | null;
  trap: string | null;
  bootstrapFailed: boolean;
  /** The last line the platform's configuration printed (`rumprun: …`), for failures. */
  lastPlatformError: string | null;
  halted: boolean;
}

/** Events a line can signal (for timings). */
type ConsoleEvent = 'platform-up' | 'main-called' | 'app-output' | 'terminal' | null;

/** A line reader over the console (see the module head). Pure. */
export function createRumprunConsole(): { state: RumprunConsoleState; line(text: string): ConsoleEvent } {
  const state: RumprunConsoleState = { platformUp: false, called: [], returned: null, exit: null, panic: null, trap: null, bootstrapFailed: false, lastPlatformError: null, halted: false };
  let inApp = false;
  let sawAppOutput = false;
  return {
    state,
    line(text: string): ConsoleEvent {
      const l = text.replace(/\r$/, '');
      if (!state.platformUp && l === 'rump kernel bare metal bootstrap') {
        state.platformUp = true;
        return 'platform-up';
      }
      let m: RegExpExecArray | null;
      if ((m = /^=== calling "(.*)" main\(\) ===$/.exec(l)) !== null) {
        state.called.push(m[1]!);
        inApp = true;
        return 'main-called';
      }
      if ((m = /^=== main\(\) of ".*" returned (-?\d+) ===$/.exec(l)) !== null) {
        state.returned = Number(m[1]);
        inApp = false;
        return null;
      }
      if ((m = /^=== (?:ERROR: )?_exit\((-?\d+)\) called ===$/.exec(l)) !== null) {
        state.exit = Number(m[1]);
        inApp = false;
        return null;
      }
      if (l.startsWith('=== bootstrap failed')) {
        state.bootstrapFailed = true;
        return null;
      }
      if (l.startsWith('rumprun: ')) state.lastPlatformError = l;
      if ((m = /^(?:panic|PANIC): (.*)$/.exec(l)) !== null) {
        state.panic ??= m[1]!;
        return null;
      }
      if (l.startsWith('FATAL TRAP:')) {
        state.trap = l;
        return 'terminal';
      }
      if (l === 'halted') {
        state.halted = true;
        return 'terminal';
      }
      if (inApp && !sawAppOutput && l !== '') {
        sawAppOutput = true;
        return 'app-output';
      }
      return null;
    },
  };
}

/**
 * How a boot started QEMU: the command (qemu-process.ts qemuCommand), whether it took the
 * launcher's early QEMU, the files whose bytes decided the command (the image) and the programs
 * it looked up on PATH — what `rumpkg run`'s early boot records (early-qemu.ts). Disk images are
 * not among them: the guest writes them, and only their being files is checked, before the
 * early QEMU is taken.
 */
export interface BootRecord {
  command: string[];
  early: boolean;
  paths: string[];
  tools: string[];
}

interface RumprunBootOptions {
  args?: string[];
  timeoutMs?: number;
  stdout?: Writable;
  stderr?: Writable;
  env?: NodeJS.ProcessEnv;
  path?: string;
  memoryMb?: number;
  /** Where relative block device sources are found (the project directory). */
  cwd?: string;
  /** QEMU starts paused until it resolves; its rejection is the boot's (qemu-process.ts). */
  gate?: () => Promise<unknown>;
  booting?: (boot: BootRecord) => void;
}

export interface RumprunBootResult {
  status: number;
  stdout: string;
  stderr: string;
  emulator: string[];
  cmdline: string;
  /** QEMU was the launcher's (early-qemu.ts). */
  early: boolean;
  /** Milliseconds from spawning QEMU to each event. */
  timings: { platformUpMs: number | null; mainMs: number | null; appOutputMs: number | null; haltMs: number | null; exitMs: number };
}

/** Boots a rumprun image (see the module head). */
export async function bootRumprun(imagePath: string, manifest: RumprunManifest, options: RumprunBootOptions): Promise<RumprunBootResult> {
  const target: Target = manifest.target;
  const plan = planRumprunQemu(imagePath, manifest, {
    ...(options.args === undefined ? {} : { args: options.args }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.memoryMb === undefined ? {} : { memoryMb: options.memoryMb }),
  });
  for (const [i, d] of plan.drives.entries()) {
    try {
      if (!(await stat(d)).isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR') {
        throw new RumpkgError('E_NOT_FOUND', `block device ${i} of ${imagePath} (image.block[${i}].source) is not a file: ${d}`, {
          context: { path: d, image: imagePath },
          hint: 'create the disk image (e.g. mke2fs -t ext2 -d DIR FILE 4M), or run from the project directory',
        });
      }
      throw fsError(e, d, 'stat disk image');
    }
  }
  const program = findProgram(plan.command[0]!, options.path ?? process.env.PATH);
  if (program === null) {
    throw new RumpkgError('E_TOOLCHAIN', `the emulator '${plan.command[0]}' for target ${target} was not found on PATH`, {
      context: { target, tool: 'qemu', command: plan.command[0], debianPackage: plan.debianPackage },
      hint: `install it: apt-get install ${plan.debianPackage}`,
    });
  }
  const timeoutMs = options.timeoutMs ?? 30_000;
  const command = qemuCommand(program, plan.command.slice(1), options.path);
  const early = await claimEarlyQemu(command);
  const boot: BootRecord = { command, early: early !== undefined, paths: [imagePath], tools: [plan.command[0]!, 'setpriv'] };
  const started = early === undefined ? Date.now() : Date.now() - (performance.now() - early.startedAt);
  options.booting?.(boot);
  const con = createRumprunConsole();
  const marks: { platformUpMs: number | null; mainMs: number | null; appOutputMs: number | null; haltMs: number | null } = { platformUpMs: null, mainMs: null, appOutputMs: null, haltMs: null };
  return new Promise<RumprunBootResult>((resolve, reject) => {
    const qemu = spawnQemu(program, plan.command.slice(1), {
      ...(options.path === undefined ? {} : { path: options.path }),
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.gate === undefined ? {} : { gate: options.gate }),
      ...(early === undefined ? {} : { early }),
    });
    const { child, release } = qemu;
    let stdout = '';
    let pending = '';
    let terminal = false;
    const emit = (text: string): void => {
      if (text === '') return;
      if (options.stdout === undefined) stdout += text;
      else options.stdout.write(text);
    };
    child.stdout.on('data', (d: Buffer) => {
      if (terminal) return;
      pending += d.toString('latin1');
      let nl: number;
      while (!terminal && (nl = pending.indexOf('\n')) >= 0) {
        const raw = pending.slice(0, nl + 1);
        pending = pending.slice(nl + 1);
        const text = raw.replace(/\r?\n$/, '');
        emit(`${text}\n`);
        const ev = con.line(text);
        const now = Date.now() - started;
        if (ev === 'platform-up') marks.platformUpMs = now;
        else if (ev === 'main-called') marks.mainMs ??= now;
        else if (ev === 'app-output') marks.appOutputMs ??= now;
        else if (ev === 'terminal') {
          marks.haltMs = now;
          terminal = true;
          release();
        }
      }
    });
    const supervised = superviseQemu(qemu, {
      timeoutMs,
      ...(options.stderr === undefined ? {} : { stderr: options.stderr }),
      startError: (e) => new RumpkgError('E_RUN', `cannot start ${program}: ${(e as NodeJS.ErrnoException).code ?? e.message}`, { context: { path: imagePath, target }, cause: e }),
    });
    supervised.then(({ code, signal, timedOut, stderr }) => {
      if (!terminal && pending !== '') emit(pending.replace(/\r\n/g, '\n'));
      const exitMs = Date.now() - started;
      const s = con.state;
      const context = { path: imagePath, target, emulator: plan.command, exitCode: code, signal, stderr: stderr.slice(0, 4000), console: s };
      const fail = (message: string, hint: string): void => reject(new RumpkgError('E_RUN', message, { context, hint }));
      if (s.trap !== null) return fail(`the ${target} guest ${imagePath} stopped on a CPU exception: ${s.trap}`, 'the application or a driver dereferenced a bad pointer; see the console above');
      if (s.panic !== null) return fail(`the ${target} guest ${imagePath} panicked: ${s.panic}`, 'a kernel component the configuration needs may be missing from the closure (rumpkg tree); see the console above');
      if (s.bootstrapFailed) return fail(`the ${target} guest ${imagePath} failed to start its program${s.lastPlatformError === null ? '' : `: ${s.lastPlatformError}`}`, 'the platform could not apply the image configuration (image.net / image.block in rumpkg.json); see the console above');
      if (timedOut) {
        return fail(
          `the ${target} guest ${imagePath} did not halt within ${timeoutMs / 1000} s; QEMU was killed`,
          !s.platformUp ? 'the platform never printed its first line: the image does not boot (wrong platform package?)' : s.called.length === 0 ? 'the kernel never started the program (a driver hangs at boot?)' : 'the application is still running (it serves forever?), or needs more time: raise --timeout',
        );
      }
      if (!s.halted) {
        const why = stderr.trim().split('\n')[0] ?? '';
        const port = /hostfwd=(tcp|udp):[^:]*:(\d+)/.exec(why);
        return fail(
          `the ${target} guest ${imagePath} ended before the kernel halted${why === '' ? '' : `: ${why}`} (QEMU exit ${code ?? signal})`,
          port !== null || /host forwarding/.test(why) ? `a forwarded host port is in use (image.forward in rumpkg.json${port === null ? '' : `: ${port[1]} ${port[2]}`})` : 'see QEMU\'s message in the error context (--json)',
        );
      }
      const status = s.exit ?? s.returned;
      if (status === null) return fail(`the ${target} guest ${imagePath} halted without running its program`, 'see the console above');
      resolve({ status, stdout, stderr, emulator: plan.command, cmdline: plan.cmdline, early: early !== undefined, timings: { ...marks, exitMs } });
    }, reject);
  });
}
