/**
 * Running an image. `posix-*` images are host executables: `runImage` spawns it, streams its
 * stdout/stderr into the given streams and resolves with its exit status; a bounded timeout kills
 * it (SIGKILL) and is reported as `timedOut`.
 *
 * `hw-*` images boot under QEMU (`bootImage`, which `runImage` calls for them). How depends on
 * the platform package the image was linked with, which the image's manifest records: an image
 * whose manifest has `boot.convention: "rumprun"` (real NetBSD drivers on rumprun's bare-metal
 * platform) boots as rumprun-boot.ts describes; every other image (rumpkg's glue on the
 * miniature platforms) as follows, see planQemu:
 * - before QEMU starts: the image's ELF header must match the target (E_ARCH), and the emulator
 *   must be on PATH (E_TOOLCHAIN naming the Debian package, qemu-system-x86 / qemu-system-misc);
 * - the serial console is streamed to `stdout`, CR LF turned into LF; everything before the
 *   platform package's first line (`rumpkg: <target> platform up`), i.e. the firmware banner, is
 *   dropped unless `verbose` (and kept in the result's `firmware`);
 * - the guest's exit status is decoded from the power-off device: x86_64 `isa-debug-exit` (QEMU
 *   exits with (status << 1) | 1), riscv64 SiFive test finisher (0x5555 → 0, (status << 16) |
 *   0x3333 → status). The console and the status are read by console.ts's glue session, which the
 *   launcher's early run shares. QEMU ending any other way (a triple fault with
 *   -no-reboot, an emulator error, the platform never starting) is E_RUN;
 * - bounded: the timeout (default 30 s) kills QEMU and is E_RUN — a guest that does not power
 *   off has hung, unlike a posix program, whose timeout is only reported;
 * - QEMU is always killed (qemu-process.ts): on timeout, on any error, on SIGINT/SIGTERM/SIGHUP
 *   of this process and when it exits; with `setpriv --pdeathsig KILL` even when rumpkg is
 *   SIGKILLed.
 * - network: one virtio-net device on a QEMU user-mode network with `restrict=on` (no host or
 *   outside traffic ever leaves the emulator); -nodefaults, so no other NIC or display exists.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { statSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { RumpkgError, fsError, openFileSource, parseElfHeader, readElfLayout, readEmbeddedManifest, type ImageManifest, type Target } from '../../components/index.js';
import { elfMachineName, findProgram, parseTarget, type Arch } from '../build/index.js';
import type { ConsoleSpec, ConsoleTimings } from './console.js';
import { bootQemu, type BootRecord } from './qemu-process.js';
import { bootRumprun } from './rumprun-boot.js';

interface RunImageOptions {
  target: Target;
  args?: string[];
  /** Kill the image after this many milliseconds (default: no limit). */
  timeoutMs?: number;
  /** Where the image's output goes; when absent it is collected into the result. */
  stdout?: Writable;
  stderr?: Writable;
  env?: NodeJS.ProcessEnv;
  /** hw: also stream the firmware banner that precedes the platform's first line. */
  verbose?: boolean;
  /** hw: PATH used to find QEMU (default process.env.PATH). */
  path?: string;
  /** hw: guest memory in MiB (default: 64 on x86_64, 128 on riscv64 and for rumprun images). */
  memoryMb?: number;
  /** hw: the directory relative block-device sources (rumpkg.json image.block) are found in. */
  cwd?: string;
  /**
   * A check to run first (`rumpkg run`'s up-to-date check): nothing of the image runs before it
   * resolved, and its rejection is the run's. hw: it is called once QEMU is starting, paused
   * (qemu-process.ts), so the two overlap; posix: it is awaited before the image starts.
   */
  gate?: () => Promise<unknown>;
  /** hw: called with how QEMU is started, just before it is (for `rumpkg run`'s early boot). */
  booting?: (boot: BootRecord) => void;
}

interface ImageRunResult {
  /** The exit status; 128 + signal number when it died of a signal. */
  status: number;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Collected output when no stream was given. */
  stdout: string;
  stderr: string;
  /** hw: the firmware output dropped before the platform's first line. */
  firmware?: string;
  /** hw: the emulator command that ran. */
  emulator?: string[];
  /** hw: QEMU was the one the launcher started early (`rumpkg run`'s early boot, early-qemu.ts). */
  early?: boolean;
  /**
   * hw: milliseconds from spawning QEMU to the platform's first line and to QEMU's exit; for the
   * rumprun convention also to the first program's start, its first output line and the halt.
   */
  timings?: ConsoleTimings;
}

export async function runImage(imagePath: string, options: RunImageOptions): Promise<ImageRunResult> {
  const t = parseTarget(options.target);
  if (t.platform === 'hw') return bootImage(imagePath, options);
  if (t.platform !== 'posix') {
    throw new RumpkgError('E_TARGET', `rumpkg run cannot start ${options.target} images yet`, {
      context: { target: options.target, path: imagePath },
      hint: 'posix-* images run on the host, hw-* images under QEMU',
    });
  }
  await checkImageFile(imagePath);
  await options.gate?.();
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

async function checkImageFile(imagePath: string): Promise<void> {
  try {
    const st = statSync(imagePath); // one system call: no thread-pool round trip before the image starts
    if (!st.isFile()) throw new RumpkgError('E_RUN', `${imagePath} is not a file`, { context: { path: imagePath } });
  } catch (e) {
    if (e instanceof RumpkgError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new RumpkgError('E_NOT_FOUND', `no image at ${imagePath}`, { context: { path: imagePath }, hint: 'build it first: rumpkg build' });
    }
    throw fsError(e, imagePath, 'stat image');
  }
}

/** How one hw arch boots under QEMU. */
interface QemuRow {
  command: string;
  debianPackage: string;
  machine: string[];
  memoryMb: number;
  netDevice: string;
}

const QEMU: Partial<Record<Arch, QemuRow>> = {
  x86_64: {
    command: 'qemu-system-x86_64',
    debianPackage: 'qemu-system-x86',
    machine: ['-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'],
    memoryMb: 64,
    netDevice: 'virtio-net-pci',

  },
  riscv64: {
    command: 'qemu-system-riscv64',
    debianPackage: 'qemu-system-misc',
    machine: ['-machine', 'virt', '-bios', 'default'],
    memoryMb: 128,
    netDevice: 'virtio-net-device',

  },
};

interface QemuPlan {
  /** The emulator program (looked up on PATH) followed by its arguments. */
  command: string[];
  debianPackage: string;
}

/** The QEMU command line that boots `imagePath` for an hw target. Pure. */
export function planQemu(imagePath: string, target: Target, options: { memoryMb?: number } = {}): QemuPlan {
  const t = parseTarget(target);
  const row = t.platform === 'hw' ? QEMU[t.arch] : undefined;
  if (row === undefined) {
    throw new RumpkgError('E_TARGET', `rumpkg cannot boot ${target} images under QEMU`, {
      context: { target },
      hint: `bootable targets: ${Object.keys(QEMU).map((a) => `hw-${a}`).join(', ')}`,
    });
  }
  return {
    command: [
      row.command,
      ...row.machine,
      '-nodefaults',
      '-no-reboot',
      '-display', 'none',
      '-serial', 'stdio',
      '-m', String(options.memoryMb ?? row.memoryMb),
      '-netdev', 'user,id=n0,restrict=on',
      '-device', `${row.netDevice},netdev=n0`,
      '-kernel', imagePath,
    ],
    debianPackage: row.debianPackage,
  };
}

/**
 * Opens the image once: its ELF header checked against the target (E_ARCH before QEMU starts),
 * and its embedded manifest, or null when it has none (an image rumpkg did not build).
 */
async function inspectImage(imagePath: string, target: Target): Promise<ImageManifest | null> {
  const t = parseTarget(target);
  // Synchronous reads: a few small ones of a file just built (in the page cache), on the way to
  // starting QEMU, where each thread-pool round trip would delay it.
  const source = await openFileSource(imagePath, { sync: true });
  try {
    const head = await source.read(0, Math.min(64, source.size));
    const h = parseElfHeader(head, { file: imagePath, size: source.size });
    if (h.machine !== t.elfMachine || h.class !== t.elfClass) {
      throw new RumpkgError('E_ARCH', `${imagePath} is built for ${elfMachineName(h.machine)} (ELF${h.class}), not for ${target}`, {
        context: { path: imagePath, target, machine: h.machine, expected: t.elfMachine },
        hint: `build it for ${target} (rumpkg build --target ${target}), or run it with the --target it was built for`,
      });
    }
    return await readEmbeddedManifest(source, await readElfLayout(source));
  } finally {
    await source.close();
  }
}

/** Boots an hw image under QEMU (see the module head). */
export async function bootImage(imagePath: string, options: RunImageOptions): Promise<ImageRunResult> {
  const target = options.target;
  const t = parseTarget(target);
  await checkImageFile(imagePath);
  // The platform package's convention, recorded in the image, decides how it boots.
  const manifest = await inspectImage(imagePath, target);
  if (manifest?.boot !== undefined) {
    switch (manifest.boot.convention) {
      case 'rumprun': {
        const r = await bootRumprun(imagePath, { ...manifest, boot: manifest.boot }, options);
        return { status: r.status, signal: null, timedOut: false, stdout: r.stdout, stderr: r.stderr, emulator: r.emulator, early: r.early, timings: r.timings };
      }
      default: {
        const never: never = manifest.boot.convention;
        throw new RumpkgError('E_RUN', `${imagePath} follows a boot convention this rumpkg does not know: ${String(never)}`, { context: { path: imagePath } });
      }
    }
  }
  const plan = planQemu(imagePath, target, options.memoryMb === undefined ? {} : { memoryMb: options.memoryMb });
  const program = findProgram(plan.command[0]!, options.path ?? process.env.PATH);
  if (program === null) {
    throw new RumpkgError('E_TOOLCHAIN', `the emulator '${plan.command[0]}' for target ${target} was not found on PATH`, {
      context: { target, tool: 'qemu', command: plan.command[0], debianPackage: plan.debianPackage },
      hint: `install it: apt-get install ${plan.debianPackage}`,
    });
  }
  if ((options.args ?? []).length > 0) {
    throw new RumpkgError('E_USAGE', `${target} images take no command-line arguments (the platform passes argv[0] only)`, {
      context: { target, args: options.args },
    });
  }
  const spec: ConsoleSpec = { convention: 'glue', image: imagePath, target, arch: t.arch as 'x86_64' | 'riscv64', emulator: plan.command, timeoutMs: options.timeoutMs ?? 30_000, verbose: options.verbose === true };
  const r = await bootQemu(program, plan.command.slice(1), spec, options);
  return { status: r.status, signal: null, timedOut: false, stdout: r.stdout, stderr: r.stderr, firmware: r.firmware ?? '', emulator: plan.command, early: r.early, timings: r.timings };
}
