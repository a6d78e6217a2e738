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
 * The console (console.ts: `createRumprunConsole`, a pure line reader, in a session shared with the
 * launcher's early run): the platform never powers off — after
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
import type { ConsoleSpec, ConsoleTimings } from './console.js';
import { bootQemu, type BootRecord } from './qemu-process.js';

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
  timings: ConsoleTimings;
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
  const spec: ConsoleSpec = { convention: 'rumprun', image: imagePath, target, emulator: plan.command, timeoutMs: options.timeoutMs ?? 30_000, drives: plan.drives };
  const r = await bootQemu(program, plan.command.slice(1), spec, options);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, emulator: plan.command, cmdline: plan.cmdline, early: r.early, timings: r.timings };
}
