/**
 * `rumpkg audit` on real images built from the miniature corpus (posix-x86_64, 10.0.0):
 * - the example closure is listed exactly, every component `confirmed`;
 * - with `.rumpkg.manifest` removed (objcopy) the components are still named by fingerprint and
 *   the report says the manifest is missing;
 * - an image linked without tcpip (an activation shim: only a link-set entry) but carrying the
 *   manifest that claims it → tcpip `claimed-but-absent`; the image with tcpip carrying the
 *   smaller manifest → tcpip `present-but-unclaimed`;
 * - an image linked with a component whose archive was altered (one global made local) →
 *   `modified`;
 * - truncated, garbage, zero-length, huge-section-count and wrong-endianness files → E_ELF;
 * - the CLI: the table, `--json`, exit 3 for findings.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { isRumpkgError, type Lockfile } from '../../components/index.js';
import {
  auditImage,
  auditVerdict,
  buildProject,
  componentDirsFromRoot,
  planImageAudit,
  readComponentsDir,
  type ImageEvidence,
  type KnownComponent,
} from '../../packager/index.js';
import { corpusRoot, tempDir, TARGET, VERSION, writeProject } from './helpers.js';
import { runCli } from '../helpers/cli.js';

const FULL = ['@rump/net-config', '@rump/tcpip', '@rump/virtif'];
const WITHOUT_TCPIP = ['@rump/net-config', '@rump/virtif'];

let root: string;
let known: KnownComponent[];
let full: { image: string; lock: Lockfile; dir: string };
let small: { image: string; lock: Lockfile; dir: string };

async function build(components: string[], resolveDir?: (name: string) => string): Promise<{ image: string; lock: Lockfile; dir: string }> {
  const dir = tempDir('rumpkg-audit-');
  const { lockfile } = writeProject(dir, root, { components });
  const fromRoot = componentDirsFromRoot(root);
  const [r] = await buildProject(dir, {
    resolveComponentDir: (name, locked) => resolveDir?.(name) ?? fromRoot(name, locked),
  });
  return { image: r!.image, lock: lockfile, dir };
}

function objcopy(args: string[]): void {
  execFileSync('objcopy', args, { stdio: 'pipe' });
}

/** `image` with its manifest replaced by the one of `donor`. */
function withManifestOf(image: string, donor: string): string {
  const out = join(tempDir('rumpkg-audit-swap-'), 'image');
  const manifest = join(tempDir('rumpkg-audit-m-'), 'manifest.json');
  objcopy(['--dump-section', `.rumpkg.manifest=${manifest}`, donor, join(tempDir('rumpkg-audit-d-'), 'discard')]);
  objcopy(['--remove-section', '.rumpkg.manifest', image, out]);
  objcopy(['--add-section', `.rumpkg.manifest=${manifest}`, '--set-section-flags', '.rumpkg.manifest=noload,readonly', out]);
  return out;
}

beforeAll(async () => {
  root = await corpusRoot();
  known = await readComponentsDir(root, { target: TARGET });
  full = await build(FULL);
  small = await build(WITHOUT_TCPIP);
}, 300_000);

afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

describe('auditImage on corpus images', () => {
  it('lists exactly the locked closure of the example, every component confirmed', async () => {
    const r = await auditImage(full.image, { knownComponents: known });
    const locked = full.lock.targets[TARGET]!.components;
    expect(r.manifest).toBe('embedded');
    expect(r.target).toBe(TARGET);
    expect(r.components.map((c) => c.name)).toEqual(Object.keys(locked).sort());
    for (const c of r.components) {
      expect({ name: c.name, evidence: c.evidence, reasons: c.reasons }).toEqual({ name: c.name, evidence: 'confirmed', reasons: [] });
      expect(c.version).toBe(locked[c.name]!.version);
      expect(c.license).toBe(locked[c.name]!.license);
    }
    const tcpip = r.components.find((c) => c.name === '@rump/tcpip')!;
    // The activation shim: no global symbols, its two link-set entries found by rc_name.
    expect(tcpip.symbols).toMatchObject({ checked: true, expected: 0 });
    expect(tcpip.linkSet.found).toEqual(['RUMP_COMPONENT_NET', 'RUMP_COMPONENT_NET_IFCFG']);
    expect(tcpip.upstream).toMatchObject({ repository: 'NetBSD/src', ref: 'netbsd-10-0-RELEASE' });
    expect(r.unattributedLinkSet).toEqual([]);
    expect(auditVerdict(r, { auditLevel: 'low' }).error).toBeUndefined();
  });

  it('without .rumpkg.manifest still names the components by fingerprint and says the manifest is missing', async () => {
    const stripped = join(tempDir('rumpkg-audit-strip-'), 'image');
    objcopy(['--remove-section', '.rumpkg.manifest', full.image, stripped]);
    const r = await auditImage(stripped, { knownComponents: await readComponentsDir(root) });
    expect(r.manifest).toBe('missing');
    expect(r.notes[0]).toMatch(/manifest missing/);
    expect(r.target).toBe(TARGET); // inferred from the fingerprints
    expect(r.components.map((c) => c.name)).toEqual(Object.keys(full.lock.targets[TARGET]!.components).sort());
    expect(new Set(r.components.map((c) => c.evidence))).toEqual(new Set(['present-but-unclaimed']));
    expect(r.components.find((c) => c.name === '@rump/tcpip')!.version).toBe(VERSION);
  });

  it('an image with one component fewer than its manifest claims: that one is claimed-but-absent', async () => {
    const liar = withManifestOf(small.image, full.image);
    const r = await auditImage(liar, { knownComponents: known });
    const by = Object.fromEntries(r.components.map((c) => [c.name, c.evidence]));
    expect(by['@rump/tcpip']).toBe('claimed-but-absent');
    expect(Object.entries(by).filter(([n]) => n !== '@rump/tcpip').every(([, e]) => e === 'confirmed')).toBe(true);
    const v = auditVerdict(r);
    expect(v.error?.code).toBe('E_AUDIT_FINDINGS');
    expect(v.error?.exitCode).toBe(3);
    expect(v.error?.message).toMatch(/@rump\/tcpip: claimed-but-absent/);
  });

  it('an image with an extra unlisted component: present-but-unclaimed', async () => {
    const extra = withManifestOf(full.image, small.image);
    const r = await auditImage(extra, { knownComponents: known });
    const tcpip = r.components.find((c) => c.name === '@rump/tcpip')!;
    expect(tcpip.evidence).toBe('present-but-unclaimed');
    expect(tcpip.version).toBe(VERSION);
    expect(tcpip.license).toBe('BSD-2-Clause');
    expect(r.components.filter((c) => c.name !== '@rump/tcpip').every((c) => c.evidence === 'confirmed')).toBe(true);
  });

  it('a component whose archive was altered (a global made local) is modified', async () => {
    const alteredRoot = tempDir('rumpkg-audit-altered-');
    const vdir = join(alteredRoot, VERSION, 'virtif');
    mkdirSync(join(alteredRoot, VERSION), { recursive: true });
    cpSync(join(root, VERSION, 'virtif'), vdir, { recursive: true });
    const archive = join(vdir, 'lib', TARGET, 'librumpnet_virtif.a');
    objcopy(['--localize-symbol=rumpns_librumpnet_virtif_version', archive]);
    const img = await build(FULL, (name) => (name === '@rump/virtif' ? vdir : (undefined as unknown as string)));
    const r = await auditImage(img.image, { knownComponents: known });
    const virtif = r.components.find((c) => c.name === '@rump/virtif')!;
    expect(virtif.evidence).toBe('modified');
    expect(virtif.symbols.missing).toEqual(['rumpns_librumpnet_virtif_version']);
    expect(r.components.filter((c) => c.name !== '@rump/virtif').every((c) => c.evidence === 'confirmed')).toBe(true);
  });

  it('without fingerprints a claimed platform package is unverified, never confirmed', async () => {
    const r = await auditImage(full.image, {});
    const rumpuser = r.components.find((c) => c.name === '@rump/rumpuser')!;
    expect(rumpuser.evidence).toBe('unverified');
    // Components with link-set entries are still checked through them.
    expect(r.components.find((c) => c.name === '@rump/tcpip')!.evidence).toBe('confirmed');
  });
});

describe('malformed images → E_ELF', () => {
  const cases: Array<[string, (b: Buffer) => Buffer]> = [
    ['zero-length', () => Buffer.alloc(0)],
    ['truncated', (b) => b.subarray(0, 100)],
    ['truncated section headers', (b) => b.subarray(0, b.length - 64)],
    ['garbage', () => Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) & 0xff))],
    ['huge section count', (b) => { const c = Buffer.from(b); c.writeUInt16LE(0xffff, 0x3c); return c; }],
    ['wrong endianness', (b) => { const c = Buffer.from(b); c[5] = 2; return c; }],
    ['not ELF', () => Buffer.from('#!/bin/sh\necho hello\n')],
  ];
  for (const [what, make] of cases) {
    it(what, async () => {
      const p = join(tempDir('rumpkg-audit-bad-'), 'image');
      writeFileSync(p, make(readFileSync(full.image)));
      const e = await auditImage(p, { knownComponents: known }).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(isRumpkgError(e, 'E_ELF'), String(e)).toBe(true);
    });
  }

  it('a missing file → E_NOT_FOUND naming it', async () => {
    const e = await auditImage('/nonexistent/rumpkg-image').catch((x: unknown) => x);
    expect(isRumpkgError(e, 'E_NOT_FOUND')).toBe(true);
    expect((e as Error).message).toMatch(/nonexistent\/rumpkg-image/);
  });
});

describe('link sets without rc_name (real NetBSD structs)', () => {
  it('attributes entries by init level after the components found by symbols take theirs', () => {
    const k = (name: string, lib: string, defined: string[], linkSet: string[]): KnownComponent => ({
      name, version: '1.0.0', target: TARGET, license: 'BSD-2-Clause', lib, aliases: [], kind: 'component', initLevels: linkSet,
      computed: { defined: defined.length, digest: 'x', linkSet }, defined, source: 'test',
    });
    const net = k('@rump/net', 'librumpnet', ['rumpns_net_a'], ['RUMP__FACTION_NET']);
    const tcpip = k('@rump/tcpip', 'librumpnet_netinet', [], ['RUMP_COMPONENT_NET', 'RUMP_COMPONENT_NET_IFCFG']);
    const shimOther = k('@rump/tcpip6', 'librumpnet_netinet6', [], ['RUMP_COMPONENT_NET', 'RUMP_COMPONENT_NET_IFCFG']);
    const ev: ImageEvidence = {
      file: 'x', bytes: 1, sha256: 'sha256-00', class: 64, endian: 'le', machine: 'x86_64', symbolTable: '.symtab',
      defined: ['main', 'rumpns_net_a'],
      linkSet: [
        { level: 'RUMP__FACTION_NET', rcName: null },
        { level: 'RUMP_COMPONENT_NET', rcName: null },
        { level: 'RUMP_COMPONENT_NET_IFCFG', rcName: null },
      ],
      manifest: {
        imageManifestVersion: 1, target: TARGET, tool: { name: 'rumpkg', version: '0' }, project: 'p',
        components: [net, tcpip].map((c) => ({ name: c.name, version: c.version, integrity: 'sha512-x', license: c.license, lib: c.lib, kind: c.kind })),
        linkOrder: [], initOrder: [], config: { net: [], block: [], entry: [] },
      },
    };
    const r = planImageAudit(ev, [net, tcpip, shimOther]);
    expect(r.components.map((c) => [c.name, c.evidence])).toEqual([
      ['@rump/net', 'confirmed'],
      ['@rump/tcpip', 'confirmed'],
    ]);
    // The same image claiming nothing for tcpip: the claimed net leaves two entries over.
    const r2 = planImageAudit({ ...ev, linkSet: ev.linkSet!.slice(0, 1) }, [net, tcpip, shimOther]);
    expect(r2.components.find((c) => c.name === '@rump/tcpip')!.evidence).toBe('claimed-but-absent');
  });
});

const run = runCli;

describe('rumpkg audit (CLI)', () => {
  it('prints the table and exits 0 for a clean image', async () => {
    const r = await run(['audit', full.image, '--components-dir', root, '--no-registry']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/component\s+version\s+licence\s+upstream\s+evidence/);
    expect(r.stdout).toMatch(/@rump\/tcpip\s+10\.0\.0\s+BSD-2-Clause\s+NetBSD\/src:sys\/rump\/net\/lib\/libnetinet@netbsd-10-0-RELEASE\s+confirmed/);
    expect(r.stdout).toMatch(/licences/);
  });

  it('--json is one report; an image with a missing claimed component exits 3', async () => {
    const liar = withManifestOf(small.image, full.image);
    const r = await run(['--json', 'audit', liar, '--components-dir', root, '--no-registry']);
    expect(r.code).toBe(3);
    const doc = JSON.parse(r.stdout) as { components: Array<{ name: string; evidence: string }>; verdict: { pass: boolean; error: { code: string } } };
    expect(doc.components.find((c) => c.name === '@rump/tcpip')!.evidence).toBe('claimed-but-absent');
    expect(doc.verdict).toMatchObject({ pass: false, error: { code: 'E_AUDIT_FINDINGS' } });
    const human = await run(['audit', liar, '--components-dir', root, '--no-registry']);
    expect(human.code).toBe(3);
    expect(human.stderr).toMatch(/error\[E_AUDIT_FINDINGS\]/);
  });

  it('a garbage image exits 1 with E_ELF, no stack', async () => {
    const p = join(tempDir('rumpkg-audit-cli-'), 'junk');
    writeFileSync(p, 'junk');
    const r = await run(['audit', p, '--components-dir', root, '--no-registry']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error\[E_ELF\]/);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
  });

  it('without IMAGE in a project: audits the lockfile', async () => {
    const r = await run(['--json', 'audit', '--cwd', full.dir, '--no-registry']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { kind: string; components: Array<{ name: string; evidence: string }> };
    expect(doc.kind).toBe('lockfile');
    expect(doc.components.map((c) => c.name)).toEqual(Object.keys(full.lock.targets[TARGET]!.components).sort());
    expect(doc.components.every((c) => c.evidence === 'locked')).toBe(true);
  });
});
