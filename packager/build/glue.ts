/**
 * The orchestration glue: a generated C `main` (template `glue/rumpkg_main.c`) that boots the
 * rump kernel, applies the project's network and block configuration through the rump public API,
 * and runs the application's entry points. `renderGlue` is pure; the template is read once.
 *
 * The public API calls used are the real rump kernel's (`rump_pub_netconfig_*` from
 * librumpnet_config, `rump_pub_etfs_register` from librumpvfs); the glue declares only the calls
 * it uses, so a project without `image.net` does not need the network configuration component.
 * Every configured string reaches C through `cString`, which escapes everything but a small set
 * of safe characters as octal escapes.
 */
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { HYPERCALL_ABI_VERSION, RumpkgError, type BlockConfig, type NetConfig } from '../../components/index.js';

interface GlueSpec {
  net: NetConfig[];
  block: BlockConfig[];
  /** Number of application entry points; entry N is `rumpkg_main_N`. */
  entries: number;
  hypercallAbi?: number;
}

/** The symbol an application entry point's `main` is renamed to. */
export function entrySymbol(index: number): string {
  return `rumpkg_main_${index}`;
}

/** `enum rump_etfs_type` of the real rump kernel (rump/rump.h). */
const RUMP_ETFS_BLK = 1;

let template: string | undefined;
function glueTemplate(): string {
  template ??= readFileSync(new URL('./glue/rumpkg_main.c', import.meta.url), 'utf8');
  return template;
}

/**
 * A C string literal for any string: printable ASCII except `"`, `\` and `?` (trigraphs) stays,
 * every other byte of the UTF-8 encoding becomes a 3-digit octal escape. NUL is refused because
 * C strings cannot hold it.
 */
export function cString(s: string): string {
  let out = '"';
  for (const b of Buffer.from(s, 'utf8')) {
    if (b === 0) throw new RumpkgError('E_MANIFEST', `a configured string contains a NUL character: ${JSON.stringify(s)}`, { context: { value: s } });
    const safe = b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c && b !== 0x3f;
    out += safe ? String.fromCharCode(b) : `\\${b.toString(8).padStart(3, '0')}`;
  }
  return `${out}"`;
}

interface Call {
  decl: string;
  fn: string;
  args: string[];
  /** What rumpkg_check prints as the argument. */
  label: string;
}

const DECLS = {
  ifcreate: 'extern int rump_pub_netconfig_ifcreate(const char *);',
  linkstr: 'extern int rump_pub_netconfig_ifsetlinkstr(const char *, const char *);',
  ifup: 'extern int rump_pub_netconfig_ifup(const char *);',
  ipv4: 'extern int rump_pub_netconfig_ipv4_ifaddr(const char *, const char *, const char *);',
  dhcp4: 'extern int rump_pub_netconfig_dhcp_ipv4_oneshot(const char *);',
  gw4: 'extern int rump_pub_netconfig_ipv4_gw(const char *);',
  ipv6: 'extern int rump_pub_netconfig_ipv6_ifaddr(const char *, const char *, int);',
  auto6: 'extern int rump_pub_netconfig_auto_ipv6(const char *);',
  gw6: 'extern int rump_pub_netconfig_ipv6_gw(const char *);',
  etfs: 'extern int rump_pub_etfs_register(const char *, const char *, int);',
} as const;

function bad(field: string, message: string): RumpkgError {
  return new RumpkgError('E_MANIFEST', `rumpkg.json ${field}: ${message}`, {
    context: { field },
    hint: 'fix the image configuration in rumpkg.json',
  });
}

/** `24` or `/24` → `255.255.255.0`; a dotted mask is kept. */
export function ipv4Mask(mask: string | undefined, field: string): string {
  if (mask === undefined) return '255.255.255.0';
  const m = /^\/?(\d{1,2})$/.exec(mask);
  if (m !== null) {
    const bits = Number(m[1]);
    if (bits > 32) throw bad(field, `prefix length ${bits} is larger than 32`);
    const n = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join('.');
  }
  if (!isIPv4(mask)) throw bad(field, `'${mask}' is not an IPv4 netmask`);
  return mask;
}

function netCalls(net: NetConfig[]): Call[] {
  const calls: Call[] = [];
  net.forEach((n, i) => {
    const f = `image.net[${i}]`;
    if (typeof n.if !== 'string' || !/^[a-z][a-z0-9]{0,14}$/.test(n.if)) throw bad(`${f}.if`, `'${String(n.if)}' is not an interface name (like vioif0 or virt0)`);
    calls.push({ decl: DECLS.ifcreate, fn: 'rump_pub_netconfig_ifcreate', args: [cString(n.if)], label: n.if });
    if (n.linkstr !== undefined) {
      // The interface's link (shmif: the bus file shared by the rump kernels on one segment).
      if (typeof n.linkstr !== 'string' || n.linkstr === '') throw bad(`${f}.linkstr`, 'a non-empty string is required');
      calls.push({ decl: DECLS.linkstr, fn: 'rump_pub_netconfig_ifsetlinkstr', args: [cString(n.if), cString(n.linkstr)], label: `${n.if}, ${n.linkstr}` });
    }
    if (n.type === 'inet' && n.method === 'dhcp') {
      calls.push({ decl: DECLS.dhcp4, fn: 'rump_pub_netconfig_dhcp_ipv4_oneshot', args: [cString(n.if)], label: n.if });
    } else if (n.type === 'inet' && n.method === 'static') {
      if (n.addr === undefined || !isIPv4(n.addr)) throw bad(`${f}.addr`, `'${String(n.addr)}' is not an IPv4 address`);
      const mask = ipv4Mask(n.mask, `${f}.mask`);
      calls.push({ decl: DECLS.ipv4, fn: 'rump_pub_netconfig_ipv4_ifaddr', args: [cString(n.if), cString(n.addr), cString(mask)], label: `${n.if}, ${n.addr}, ${mask}` });
      if (n.gw !== undefined) {
        if (!isIPv4(n.gw)) throw bad(`${f}.gw`, `'${n.gw}' is not an IPv4 address`);
        calls.push({ decl: DECLS.gw4, fn: 'rump_pub_netconfig_ipv4_gw', args: [cString(n.gw)], label: n.gw });
      }
    } else if (n.type === 'inet6' && n.method === 'dhcp') {
      calls.push({ decl: DECLS.auto6, fn: 'rump_pub_netconfig_auto_ipv6', args: [cString(n.if)], label: n.if });
    } else if (n.type === 'inet6' && n.method === 'static') {
      if (n.addr === undefined || !isIPv6(n.addr)) throw bad(`${f}.addr`, `'${String(n.addr)}' is not an IPv6 address`);
      const plen = n.mask === undefined ? 64 : Number(/^\/?(\d{1,3})$/.exec(n.mask)?.[1] ?? NaN);
      if (!Number.isInteger(plen) || plen > 128) throw bad(`${f}.mask`, `'${String(n.mask)}' is not an IPv6 prefix length`);
      calls.push({ decl: DECLS.ipv6, fn: 'rump_pub_netconfig_ipv6_ifaddr', args: [cString(n.if), cString(n.addr), String(plen)], label: `${n.if}, ${n.addr}/${plen}` });
      if (n.gw !== undefined) {
        if (!isIPv6(n.gw)) throw bad(`${f}.gw`, `'${n.gw}' is not an IPv6 address`);
        calls.push({ decl: DECLS.gw6, fn: 'rump_pub_netconfig_ipv6_gw', args: [cString(n.gw)], label: n.gw });
      }
    } else {
      throw bad(f, `unsupported type/method '${String(n.type)}'/'${String(n.method)}' (inet|inet6, dhcp|static)`);
    }
    // An interface given a link is brought up once addressed (a cloned interface such as shmif starts down).
    if (n.linkstr !== undefined) calls.push({ decl: DECLS.ifup, fn: 'rump_pub_netconfig_ifup', args: [cString(n.if)], label: n.if });
  });
  return calls;
}

function blockCalls(block: BlockConfig[]): Call[] {
  return block.map((b, i) => {
    const f = `image.block[${i}]`;
    if (typeof b.source !== 'string' || b.source === '') throw bad(`${f}.source`, 'a host file or device is required');
    if (typeof b.path !== 'string' || !b.path.startsWith('/')) throw bad(`${f}.path`, `'${String(b.path)}' must be an absolute path inside the rump kernel, like /dev/ld0a`);
    return { decl: DECLS.etfs, fn: 'rump_pub_etfs_register', args: [cString(b.path), cString(b.source), String(RUMP_ETFS_BLK)], label: `${b.path}, ${b.source}` };
  });
}

/** Renders the glue C source for a configuration and a number of entry points. Pure. */
export function renderGlue(spec: GlueSpec): string {
  if (!Number.isInteger(spec.entries) || spec.entries < 0 || spec.entries > 64) {
    throw new Error(`renderGlue: entries must be an integer 0..64, not ${spec.entries}`);
  }
  const calls = [...netCalls(spec.net), ...blockCalls(spec.block)];
  const decls = [...new Set(calls.map((c) => c.decl))];
  for (let i = 0; i < spec.entries; i++) decls.push(`extern int ${entrySymbol(i)}(int, char **, char **);`);
  const config = calls
    .map((c) => `\tif (rumpkg_check(${c.fn}(${c.args.join(', ')}), ${cString(c.fn)}, ${cString(c.label)}) != 0)\n\t\treturn 72;`)
    .join('\n');
  const entries: string[] = [];
  for (let i = 0; i < spec.entries; i++) {
    entries.push(`\trv = ${entrySymbol(i)}(argc, argv, envp);`);
    if (i < spec.entries - 1) entries.push('\tif (rv != 0)\n\t\treturn rv;');
  }
  return glueTemplate()
    .replace('@HYPERCALL_ABI@', () => String(spec.hypercallAbi ?? HYPERCALL_ABI_VERSION))
    .replace('@DECLS@', () => (decls.length === 0 ? '' : `${decls.join('\n')}\n`))
    .replace('@CONFIG@', () => config)
    .replace('@ENTRIES@', () => entries.join('\n'));
}
