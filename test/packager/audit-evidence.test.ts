/**
 * `readImageEvidence` (positioned reads, a byte index of the defined names, the hash on a
 * worker) against independent oracles:
 * - the sha256 of the file (node:crypto; hashed on this thread up to 16 MiB, on a worker above),
 *   the defined names of the in-memory symbol scan
 *   (`imageSymbols`), the link set entries (with rc_name) and the manifest that were built in;
 * - `planImageAudit` gives the same report from either (the id-based matching of the index
 *   against the Set-based fallback), for present, absent, shared and partly present components;
 * - malformed images: E_ELF, and the hash worker does not outlive the call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { imageSymbols, isRumpkgError, type ImageManifest } from '../../components/index.js';
import { planImageAudit, readImageEvidence, type ImageEvidence, type KnownComponent } from '../../packager/index.js';

let dir: string;
let image: string;
let stripped: string;
let manifest: ImageManifest;

const SRC = `
struct rump_component { int rc_type; void (*rc_init)(void); const char *rc_name; };
static void init(void) {}
static const struct rump_component c1 = { 7, init, "libalpha" };
static const struct rump_component c2 = { 2, init, "libbeta" };
__attribute__((section("link_set_rump_components"), used)) static const void *p1 = &c1;
__attribute__((section("link_set_rump_components"), used)) static const void *p2 = &c2;
${Array.from({ length: 300 }, (_, i) => `int rumpns_alpha_f${i}(void) { return ${i}; }`).join('\n')}
${Array.from({ length: 200 }, (_, i) => `int rumpns_beta_f${i}(void) { return ${i}; }`).join('\n')}
int rumpns_shared(void) { return 1; }
__attribute__((weak)) int rumpns_weak_one(void) { return 2; }
int main(void) { return 0; }
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rumpkg-audit-ev-'));
  writeFileSync(join(dir, 'img.c'), SRC);
  stripped = join(dir, 'img-nomanifest');
  execFileSync('cc', ['-O1', '-no-pie', '-o', stripped, join(dir, 'img.c')]);
  const component = (name: string): ImageManifest['components'][number] => ({ name, version: '1.0.0', integrity: `sha512-${'A'.repeat(86)}==`, license: 'BSD-2-Clause', lib: `lib${name.slice(3)}`, kind: 'component' });
  manifest = {
    imageManifestVersion: 1,
    target: 'posix-x86_64',
    tool: { name: 'rumpkg', version: '0.1.0' },
    project: 'ev',
    components: [component('@t/alpha'), component('@t/gamma')],
    linkOrder: ['@t/alpha', '@t/gamma'],
    initOrder: [],
    config: { net: [], block: [], entry: [] },
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  image = join(dir, 'img');
  execFileSync('objcopy', ['--add-section', `.rumpkg.manifest=${join(dir, 'manifest.json')}`, stripped, image]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function known(name: string, defined: string[], version = '1.0.0', initLevels: string[] = []): KnownComponent {
  const d = [...defined].sort();
  return { name, version, target: 'posix-x86_64', license: 'BSD-2-Clause', lib: `lib${name.split('/')[1]}`, aliases: [], kind: 'component', initLevels, defined: d, computed: { defined: d.length, digest: 'sha256-x' }, source: 'test' };
}

/** The evidence without its byte index: planImageAudit then matches through the name list. */
const withoutIndex = (e: ImageEvidence): ImageEvidence => ({ ...e, defined: [...e.defined], definedCount: undefined, hasDefined: undefined, definedId: undefined, definedIds: undefined });

describe('readImageEvidence', () => {
  it.each([['with a manifest', () => image], ['without', () => stripped]])('%s: hash, symbols, link set, manifest', async (_label, path) => {
    const p = path();
    const bytes = readFileSync(p);
    const a = await readImageEvidence(p);
    const oracle = imageSymbols(new Uint8Array(bytes), { file: p });
    expect(a.sha256).toBe(`sha256-${createHash('sha256').update(bytes).digest('hex')}`);
    expect(a.bytes).toBe(bytes.length);
    expect(a.defined).toEqual(oracle.defined);
    expect(a.definedCount).toBe(oracle.defined.length);
    expect(a.defined).toContain('rumpns_alpha_f0');
    expect(a.hasDefined?.('rumpns_weak_one')).toBe(true);
    expect(a.hasDefined?.('rumpns_alpha_f300')).toBe(false);
    expect([...(a.linkSet ?? [])].sort((x, y) => ((x.rcName ?? '') < (y.rcName ?? '') ? -1 : 1))).toEqual([
      { level: 'RUMP_COMPONENT_KERN', rcName: 'libalpha' },
      { level: 'RUMP_COMPONENT_NET', rcName: 'libbeta' },
    ]);
    expect(a.manifest).toEqual(p === stripped ? null : manifest);
  });

  it('an image above the on-thread hash limit (16 MiB) is hashed on the worker: the same digest and evidence', async () => {
    const bytes = readFileSync(stripped);
    const big = join(dir, 'big');
    // trailing bytes after the section table: still the same ELF, hashed whole
    const tail = Buffer.alloc(17 * 1024 * 1024);
    for (let i = 0; i < tail.length; i += 4096) tail[i] = i & 0xff;
    writeFileSync(big, Buffer.concat([bytes, tail]));
    const all = readFileSync(big);
    const a = await readImageEvidence(big);
    expect(a.bytes).toBe(all.length);
    expect(a.sha256).toBe(`sha256-${createHash('sha256').update(all).digest('hex')}`);
    expect(a.defined).toEqual((await readImageEvidence(stripped)).defined);
  });

  it('planImageAudit: the same report from the index and from the name list', async () => {
    const a = await readImageEvidence(image);
    const b = withoutIndex(a);
    const alpha = Array.from({ length: 300 }, (_, i) => `rumpns_alpha_f${i}`);
    const beta = Array.from({ length: 200 }, (_, i) => `rumpns_beta_f${i}`);
    const ks = [
      known('@t/alpha', [...alpha, 'rumpns_shared'], '1.0.0', ['RUMP_COMPONENT_KERN']),
      known('@t/alpha', [...alpha.slice(0, 250), 'rumpns_alpha_gone'], '0.9.0', ['RUMP_COMPONENT_KERN']),
      known('@t/beta', [...beta, 'rumpns_shared', 'rumpns_weak_one'], '1.0.0', ['RUMP_COMPONENT_NET']),
      known('@t/gamma', ['rumpns_gamma_only']),
      known('@t/delta', ['rumpns_shared']),
    ];
    const ra = planImageAudit(a, ks);
    const rb = planImageAudit(b, ks);
    expect(ra).toEqual(rb);
    const by = Object.fromEntries(ra.components.map((c) => [c.name, c.evidence]));
    expect(by).toMatchObject({ '@t/alpha': 'confirmed', '@t/beta': 'present-but-unclaimed', '@t/gamma': 'claimed-but-absent' });
    // its one name is shared with alpha and beta, but every name it has is there
    expect(by['@t/delta']).toBe('present-but-unclaimed');
    expect(ra.image?.definedSymbols).toBe(b.defined.length);
  });

  it('malformed images: E_ELF; the hash worker is stopped', async () => {
    const bytes = readFileSync(stripped);
    const bad = join(dir, 'bad');
    const b = Buffer.from(bytes);
    b.writeBigUInt64LE(1n << 40n, 40); // e_shoff past the end
    writeFileSync(bad, b);
    for (let i = 0; i < 5; i++) {
      const e = await readImageEvidence(bad).then(() => null, (x: unknown) => x);
      expect(isRumpkgError(e, 'E_ELF'), String(e)).toBe(true);
    }
    writeFileSync(bad, bytes.subarray(0, 100));
    await expect(readImageEvidence(bad)).rejects.toMatchObject({ code: 'E_ELF' });
    await expect(readImageEvidence(join(dir, 'missing'))).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });
});
