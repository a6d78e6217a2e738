/**
 * The rumprun convention (a platform package whose `rump.targets[T].platform.convention` is
 * `rumprun`, e.g. the imported rumprun hw platform): what rumpkg does in place of rumprun-bake,
 * rumprun's compiler wrapper and its launcher. All pure; build.ts, link-plan.ts and packager/run
 * call these.
 *
 * - **Programs**: the platform calls `rumprun_main1` … `rumprun_main8`. Each application entry
 *   point is one program; the glue (glue/rumprun_main.c) fills its slot (see there why the slot
 *   is a glue function and not the renamed main itself). A program's name (its argv[0]) is the
 *   entry's file name without extension, or the project name when the whole application is one
 *   program.
 * - **Configuration**: rumpkg.json `image.net` / `image.block` become the JSON the platform reads
 *   from the kernel command line, rendered by `renderRumprunCmdline` when the image is booted
 *   (the image manifest carries the configuration, so an image boots the same from anywhere):
 *   `{"net":{…},"blk":{…},"cmdline":"name args"}` (one program) or `"rc":[{"bin":…,"argv":[…]}]`
 *   (several). The platform's parser does not decode JSON escapes and repeats keys instead of
 *   using arrays, so the text is written here, not by JSON.stringify, and every value is
 *   checked to need no escaping. At most 4095 bytes reach the platform.
 * - **Block devices**: `image.block[i]` is QEMU's i-th virtio block device, which NetBSD attaches
 *   as `ld<i>`, so its `path` must be `/dev/ld<i>a`; with a `mountpoint` it is mounted (`fstype`
 *   one of those the platform probes: ffs, ext2fs, cd9660).
 * - **Components the configuration needs** (init-time requirements no symbol shows, measured on
 *   the real rumprun hw build): `net` needs librumpnet_config and, per address family,
 *   librumpnet_netinet / librumpnet_netinet6 (the configuration component panics at init without
 *   one); DHCP needs librumpdev_bpf (its client opens a bpf device); a block device needs
 *   librumpdev_virtio_ld, and a mount the file system's component. Missing → E_BUILD naming the
 *   component to add, before anything is compiled.
 */
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { RumpkgError, type BlockConfig, type ImageManifest, type NetConfig, type PortForward } from '../../components/index.js';
import { entrySymbol } from './glue.js';

/** Program slots the platform calls (rumprun_main1..8). */
export const RUMPRUN_MAX_PROGRAMS = 8;

/** Bytes of command line the platform accepts (its multiboot command-line buffer, NUL included). */
export const RUMPRUN_CMDLINE_MAX = 4095;

/** File systems the platform's `"fstype":"blk"` probes, and the library of each. */
const FS_LIBS: Record<string, string> = { ffs: 'librumpfs_ffs', ext2fs: 'librumpfs_ext2fs', cd9660: 'librumpfs_cd9660' };

let template: string | undefined;

/** The glue source for `programs` entry points. Pure (the template is read once). */
export function renderRumprunGlue(programs: number): string {
  if (!Number.isInteger(programs) || programs < 0 || programs > RUMPRUN_MAX_PROGRAMS) throw new Error(`renderRumprunGlue: programs must be 0..${RUMPRUN_MAX_PROGRAMS}, not ${programs}`);
  template ??= readFileSync(new URL('./glue/rumprun_main.c', import.meta.url), 'utf8');
  const decls: string[] = [];
  const slots: string[] = [];
  for (let i = 0; i < programs; i++) {
    decls.push(`extern int ${entrySymbol(i)}(int, char **, char **);`);
    slots.push(`int rumprun_main${i + 1}(int, char **);\nint\nrumprun_main${i + 1}(int argc, char **argv)\n{\n\treturn ${entrySymbol(i)}(argc, argv, environ);\n}\n`);
  }
  return template.replace('@DECLS@', () => decls.join('\n')).replace('@SLOTS@', () => slots.join('\n'));
}

function bad(field: string, message: string, hint = 'fix the image configuration in rumpkg.json'): RumpkgError {
  return new RumpkgError('E_MANIFEST', `rumpkg.json ${field}: ${message}`, { context: { field }, hint });
}

/** The name of each program: the entry's file name without extension, else the project name. Pure. */
export function rumprunProgramNames(entries: readonly string[], project: string, programs: number): string[] {
  const clean = (s: string): string => s.replace(/^@[^/]+\//, '').replace(/[^A-Za-z0-9._+-]/g, '_').replace(/^[.+-]+/, '').slice(0, 64) || 'app';
  if (programs === 0) return [];
  if (entries.length === 0) return [clean(project)];
  const names = entries.map((e) => clean((e.split('/').pop() ?? e).replace(/\.[A-Za-z0-9]+$/, '')));
  // Unique names: a second `main.c` becomes `main-2`.
  const seen = new Map<string, number>();
  return names.map((n) => {
    const k = (seen.get(n) ?? 0) + 1;
    seen.set(n, k);
    return k === 1 ? n : `${n}-${k}`;
  });
}

/** `24`, `/24` or a dotted IPv4 netmask → the prefix length. */
function prefixLength(mask: string | undefined, family: 'inet' | 'inet6', field: string): number {
  if (mask === undefined) return family === 'inet' ? 24 : 64;
  const m = /^\/?(\d{1,3})$/.exec(mask);
  const max = family === 'inet' ? 32 : 128;
  if (m !== null) {
    const n = Number(m[1]);
    if (n > max) throw bad(field, `prefix length ${n} is larger than ${max}`);
    return n;
  }
  if (family === 'inet' && isIPv4(mask)) {
    const bits = mask.split('.').reduce((a, o) => (a << 8) | Number(o), 0) >>> 0;
    const len = bits === 0 ? 0 : 32 - Math.log2((~bits >>> 0) + 1);
    if (!Number.isInteger(len)) throw bad(field, `${mask} is not a contiguous netmask`);
    return len;
  }
  throw bad(field, `'${mask}' is not a ${family === 'inet' ? 'netmask or prefix length' : 'prefix length'}`);
}

/** Checks a value can be written into the platform's JSON as is (no escapes, no quotes). */
function plain(value: string, field: string): string {
  if (/["\\\u0000-\u001f\u007f]/.test(value)) throw bad(field, `${JSON.stringify(value)} contains a quote, backslash or control character, which the platform's configuration parser cannot read`);
  return value;
}

function netObject(n: NetConfig, i: number): string {
  const f = `image.net[${i}]`;
  if (typeof n.if !== 'string' || !/^[a-z][a-z0-9]{0,14}[0-9]$/.test(n.if)) throw bad(`${f}.if`, `'${String(n.if)}' is not an interface name (like vioif0)`);
  const fields: Array<[string, string]> = [['if', n.if], ['type', n.type]];
  if (n.type === 'inet' && n.method === 'dhcp') fields.push(['method', 'dhcp']);
  else if (n.type === 'inet6' && n.method === 'dhcp') fields.push(['method', 'auto']);
  else if (n.method === 'static' && (n.type === 'inet' || n.type === 'inet6')) {
    const ok = n.type === 'inet' ? isIPv4 : isIPv6;
    if (n.addr === undefined || !ok(n.addr)) throw bad(`${f}.addr`, `'${String(n.addr)}' is not an ${n.type === 'inet' ? 'IPv4' : 'IPv6'} address`);
    fields.push(['method', 'static'], ['addr', n.addr], ['mask', String(prefixLength(n.mask, n.type, `${f}.mask`))]);
    if (n.gw !== undefined) {
      if (!ok(n.gw)) throw bad(`${f}.gw`, `'${n.gw}' is not an ${n.type === 'inet' ? 'IPv4' : 'IPv6'} address`);
      fields.push(['gw', n.gw]);
    }
  } else {
    throw bad(f, `unsupported type/method '${String(n.type)}'/'${String(n.method)}' (inet|inet6, dhcp|static)`);
  }
  return `{${fields.map(([k, v]) => `"${k}":"${plain(v, `${f}.${k}`)}"`).join(',')}}`;
}

function blkObject(b: BlockConfig, i: number): string | undefined {
  const f = `image.block[${i}]`;
  if (b.path !== `/dev/ld${i}a`) {
    throw bad(`${f}.path`, `'${b.path}' cannot be: block device ${i} is QEMU's virtio disk ${i}, which NetBSD attaches as /dev/ld${i}a`, `set path to /dev/ld${i}a`);
  }
  if (b.mountpoint === undefined) return undefined;
  if (!/^\/[A-Za-z0-9._+-]+(\/[A-Za-z0-9._+-]+)*$/.test(b.mountpoint)) throw bad(`${f}.mountpoint`, `'${b.mountpoint}' must be an absolute path of letters, digits and . _ + -`);
  if (b.fstype === undefined || FS_LIBS[b.fstype] === undefined) {
    throw bad(`${f}.fstype`, `${b.fstype === undefined ? 'a mounted device needs an fstype' : `'${b.fstype}' is not a file system the platform mounts`} (one of ${Object.keys(FS_LIBS).join(', ')})`);
  }
  return `{"source":"dev","path":"${b.path}","fstype":"blk","mountpoint":"${b.mountpoint}"}`;
}

interface RumprunConfig {
  net: NetConfig[];
  block: BlockConfig[];
}

/** A component a configuration needs: its library and the registry word to add it by. */
interface Needed {
  lib: string;
  add: string;
  why: string;
}

/** The components `config` needs on this platform (see the module head). Pure. */
function neededComponents(config: RumprunConfig): Needed[] {
  const out: Needed[] = [];
  const need = (lib: string, add: string, why: string): void => {
    if (!out.some((n) => n.lib === lib)) out.push({ lib, add, why });
  };
  config.net.forEach((n, i) => {
    need('librumpnet_config', 'net-config', `image.net[${i}] is applied by the network configuration component`);
    if (n.type === 'inet') need('librumpnet_netinet', 'tcpip', `image.net[${i}] is an IPv4 interface`);
    if (n.type === 'inet6') need('librumpnet_netinet6', 'tcpip6', `image.net[${i}] is an IPv6 interface`);
    if (n.type === 'inet' && n.method === 'dhcp') need('librumpdev_bpf', 'dev-bpf', `image.net[${i}] uses DHCP, whose client opens a bpf device`);
  });
  config.block.forEach((b, i) => {
    need('librumpdev_virtio_ld', 'virtio-blk', `image.block[${i}] is a virtio block device`);
    if (b.mountpoint !== undefined && b.fstype !== undefined && FS_LIBS[b.fstype] !== undefined) need(FS_LIBS[b.fstype] as string, `fs-${b.fstype}`, `image.block[${i}] mounts ${b.fstype}`);
  });
  return out;
}

/**
 * Checks an image configuration for a rumprun platform before anything is built: the values
 * (E_MANIFEST) and that the closure has the components they need (E_BUILD). `libs` are the
 * library names of the closure.
 */
export function checkRumprunConfig(config: RumprunConfig & { programs: number; forward?: PortForward[] }, libs: ReadonlySet<string>, target: string): void {
  if (config.programs > RUMPRUN_MAX_PROGRAMS) {
    throw bad('image.entry', `${config.programs} entry points, but the platform runs at most ${RUMPRUN_MAX_PROGRAMS} programs`);
  }
  config.net.forEach(netObject);
  config.block.forEach(blkObject);
  for (const n of neededComponents(config)) {
    if (!libs.has(n.lib)) {
      throw new RumpkgError('E_BUILD', `the ${target} image needs ${n.add} (${n.lib}): ${n.why}`, {
        context: { target, component: n.add, lib: n.lib },
        hint: `rumpkg add ${n.add}`,
      });
    }
  }
}

/** Whether an argument can be passed on the platform's command line (quoted when it has blanks). */
function argWord(a: string): string {
  if (/["'\\\u0000-\u001f\u007f]/.test(a)) {
    throw new RumpkgError('E_USAGE', `argument ${JSON.stringify(a)} contains a quote, backslash or control character, which the platform's command line cannot carry`, { context: { arg: a } });
  }
  return /\s/.test(a) || a === '' ? `'${a}'` : a;
}

/**
 * The kernel command line (the platform's JSON configuration) of an image: its configuration
 * from the image manifest, its programs, and the run's arguments for a single program. Pure.
 */
export function renderRumprunCmdline(manifest: Pick<ImageManifest, 'config'> & { boot: { programs: string[] } }, args: readonly string[] = []): string {
  const parts: string[] = [];
  manifest.config.net.forEach((n, i) => parts.push(`"net":${netObject(n, i)}`));
  manifest.config.block.forEach((b, i) => {
    const o = blkObject(b, i);
    if (o !== undefined) parts.push(`"blk":${o}`);
  });
  const programs = manifest.boot.programs.map((p, i) => plain(p, `boot.programs[${i}]`));
  if (programs.length === 1) {
    parts.push(`"cmdline":"${[programs[0] as string, ...args.map(argWord)].join(' ')}"`);
  } else {
    if (args.length > 0) {
      throw new RumpkgError('E_USAGE', `the image runs ${programs.length} programs; arguments can only be given to an image with one`, { context: { programs } });
    }
    parts.push(`"rc":[${programs.map((p) => `{"bin":"${p}","argv":[]}`).join(',')}]`);
  }
  const text = `{${parts.join(',')}}`;
  if (Buffer.byteLength(text) > RUMPRUN_CMDLINE_MAX) {
    throw new RumpkgError('E_RUN', `the image's configuration is ${Buffer.byteLength(text)} bytes; the platform reads at most ${RUMPRUN_CMDLINE_MAX}`, {
      context: { bytes: Buffer.byteLength(text) },
      hint: 'configure fewer interfaces or block devices, or pass shorter arguments',
    });
  }
  return text;
}
