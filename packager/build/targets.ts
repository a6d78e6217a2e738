/**
 * Targets: `<platform>-<arch>` (DESIGN.md §2). A target names the platform whose platform
 * package (orchestration layer) the image is linked with, and the CPU architecture every input
 * must be built for. `posix-*` targets run on the host (host `cc`, host libc) and so only exist
 * for the host's own architecture; freestanding targets (`hw-*`, `xen-*`) are cross-built.
 */
import { RumpkgError, type Target } from '../../components/index.js';

/** Architectures rumpkg knows, with the ELF facts used to check inputs (E_ARCH). */
export const ARCHES = {
  x86_64: { elfMachine: 62, elfClass: 64, nodeArch: 'x64', clangTriple: 'x86_64-unknown-none-elf' },
  i386: { elfMachine: 3, elfClass: 32, nodeArch: 'ia32', clangTriple: 'i386-unknown-none-elf' },
  aarch64: { elfMachine: 183, elfClass: 64, nodeArch: 'arm64', clangTriple: 'aarch64-unknown-none-elf' },
  arm: { elfMachine: 40, elfClass: 32, nodeArch: 'arm', clangTriple: 'arm-none-eabi' },
  riscv64: { elfMachine: 243, elfClass: 64, nodeArch: 'riscv64', clangTriple: 'riscv64-unknown-elf' },
} as const;

export type Arch = keyof typeof ARCHES;

/** Platforms rumpkg knows. `hosted` platforms link against the host libc through `cc`. */
const PLATFORMS = {
  posix: { hosted: true, description: 'a process on the host (rumpuser on the host libc)' },
  hw: { hosted: false, description: 'bare metal / QEMU (freestanding)' },
  xen: { hosted: false, description: 'Xen PV guest (freestanding)' },
} as const;

export type Platform = keyof typeof PLATFORMS;

interface TargetInfo {
  target: Target;
  platform: Platform;
  arch: Arch;
  elfMachine: number;
  elfClass: 32 | 64;
  hosted: boolean;
}

const isArch = (a: string): a is Arch => Object.hasOwn(ARCHES, a);
const isPlatform = (p: string): p is Platform => Object.hasOwn(PLATFORMS, p);

/** Parses and checks a target name; E_TARGET for anything unknown. Pure. */
export function parseTarget(target: Target): TargetInfo {
  const m = /^([a-z]+)-([a-z0-9_]+)$/.exec(target);
  const platform = m?.[1] ?? '';
  const arch = m?.[2] ?? '';
  if (m === null || !isPlatform(platform) || !isArch(arch)) {
    const known = Object.keys(PLATFORMS).flatMap((p) => Object.keys(ARCHES).map((a) => `${p}-${a}`));
    throw new RumpkgError('E_TARGET', `unknown target '${target}'`, {
      context: { target },
      hint: `a target is <platform>-<arch>, one of: ${known.join(', ')}`,
    });
  }
  const a = ARCHES[arch];
  return {
    target,
    platform,
    arch,
    elfMachine: a.elfMachine,
    elfClass: a.elfClass,
    hosted: PLATFORMS[platform].hosted,
  };
}

/** The host's architecture in rumpkg's naming, or null when rumpkg has no name for it. */
export function hostArch(nodeArch: string = process.arch): Arch | null {
  for (const [name, a] of Object.entries(ARCHES)) if (a.nodeArch === nodeArch) return name as Arch;
  return null;
}

/** Name of the ELF machine number, for messages. */
export function elfMachineName(machine: number): string {
  for (const [name, a] of Object.entries(ARCHES)) if (a.elfMachine === machine) return name;
  return `machine ${machine}`;
}
