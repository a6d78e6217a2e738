/**
 * The audit's HTML report and the SVG graph, from the demo project (examples/hello-virtio built
 * for hw-x86_64 from the miniature corpus): `rumpkg audit IMAGE --html FILE` writes one
 * self-contained page (no script, nothing fetched) with the components and their evidence, a
 * size treemap whose areas follow the linker map's bytes, and the graph coloured by evidence;
 * the same image gives the same bytes (twice, and from another directory); hostile strings in a
 * report are shown as text. Then a person's view in headless Chromium: the report and
 * `rumpkg graph --format svg`'s picture, screenshots kept under the screenshot directory.
 * Needs clang, ld.lld and llvm-objcopy for the hw image (skipped with a message otherwise).
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildProject,
  findProgram,
  planTreemap,
  readSizeReport,
  renderAuditHtml,
  storeComponentDirResolver,
  type AuditReport,
  type SizeReport,
} from '../../packager/index.js';
import { escapeHtml } from '../../registry/index.js';
import { HAS_CHROMIUM, openBrowser, screenshotStats } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';
import { demoWorld, releaseDemoWorld, type DemoWorld } from '../helpers/demo.js';

const TOOLS = ['clang', 'ld.lld', 'llvm-objcopy'];
const missing = TOOLS.filter((t) => findProgram(t) === null);
if (missing.length > 0) console.warn(`test/packager/report-html.test.ts: image tests skipped: ${missing.join(', ')} not on PATH (Debian: clang lld llvm)`);

let world: DemoWorld;
let image: string;
let size: SizeReport;

async function cli(args: string[]): Promise<Awaited<ReturnType<typeof runCli>>> {
  const saved = process.env.RUMPKG_HOME;
  process.env.RUMPKG_HOME = world.env.RUMPKG_HOME;
  try {
    return await runCli(args);
  } finally {
    if (saved === undefined) delete process.env.RUMPKG_HOME;
    else process.env.RUMPKG_HOME = saved;
  }
}

beforeAll(async () => {
  world = await demoWorld();
  if (missing.length > 0) return;
  const [r] = await buildProject(world.project, { target: 'hw-x86_64', resolveComponentDir: await storeComponentDirResolver(world.project, { env: world.env }) });
  image = r!.image;
  size = await readSizeReport(image);
}, 900_000);

describe('the size treemap', () => {
  it('areas follow the bytes, boxes stay inside their owner, and the layout is deterministic', async () => {
    const report: SizeReport = {
      image: 'x',
      target: 'posix-x86_64',
      fileBytes: 9000,
      allocBytes: 8000,
      unattributed: 400,
      rows: [
        { owner: '@rump/big', kind: 'component', text: 4000, data: 600, bss: 400, total: 5000 },
        { owner: '@rump/rumpuser', kind: 'platform', text: 1500, data: 0, bss: 500, total: 2000 },
        { owner: 'app', kind: 'app', text: 600, data: 0, bss: 0, total: 600 },
        { owner: '@rump/empty', kind: 'component', text: 0, data: 0, bss: 0, total: 0 },
      ],
    };
    const cells = await planTreemap(report, { width: 800, height: 400 });
    expect(await planTreemap(report, { width: 800, height: 400 })).toEqual(cells);
    const owners = cells.filter((c) => c.part === 'total');
    expect(owners.map((c) => c.owner)).toEqual(['@rump/big', '@rump/rumpuser', 'app', '(unattributed)']);
    const area = (c: { width: number; height: number }): number => c.width * c.height;
    // Bigger owners get bigger boxes, roughly in proportion (padding and label strips aside).
    const big = area(owners[0]!);
    const platform = area(owners[1]!);
    expect(big / platform).toBeGreaterThan(2);
    expect(big / platform).toBeLessThan(3.2);
    for (const o of owners) {
      expect(o.x).toBeGreaterThanOrEqual(0);
      expect(o.x + o.width).toBeLessThanOrEqual(800.05);
      expect(o.y + o.height).toBeLessThanOrEqual(400.05);
      const parts = cells.filter((c) => c.owner === o.owner && c.part !== 'total');
      for (const p of parts) {
        expect(p.x).toBeGreaterThanOrEqual(o.x - 0.05);
        expect(p.y).toBeGreaterThanOrEqual(o.y - 0.05);
        expect(p.x + p.width).toBeLessThanOrEqual(o.x + o.width + 0.05);
        expect(p.y + p.height).toBeLessThanOrEqual(o.y + o.height + 0.05);
      }
    }
    const parts = cells.filter((c) => c.owner === '@rump/big' && c.part !== 'total');
    expect(parts.map((p) => [p.part, p.bytes])).toEqual([
      ['text', 4000],
      ['data', 600],
      ['bss', 400],
    ]);
    expect(area(parts[0]!) / area(parts[2]!)).toBeGreaterThan(8);
    expect(area(parts[0]!) / area(parts[2]!)).toBeLessThan(12);
  });
});

describe('the HTML report of a hand-made report with hostile strings', () => {
  const EVIL = `<script>alert(1)</script><img src=x onerror=alert(2)>"'&`;
  const report: AuditReport = {
    auditVersion: 1,
    kind: 'image',
    image: { path: `/tmp/${EVIL}`, sha256: 'sha256-00', bytes: 10, machine: 'x86_64', class: 64, endian: 'le', symbolTable: '.symtab', definedSymbols: 1, linkSetEntries: 1 },
    manifest: 'embedded',
    target: 'posix-x86_64',
    project: EVIL,
    tool: EVIL,
    components: [
      {
        name: '@rump/evil',
        version: '1.0.0',
        candidates: ['1.0.0'],
        license: EVIL,
        lib: EVIL,
        kind: 'component',
        upstream: { project: EVIL, repository: EVIL, ref: EVIL, path: EVIL },
        integrity: null,
        evidence: 'modified',
        claimed: true,
        symbols: { checked: true, expected: 2, found: 1, missing: [EVIL] },
        linkSet: { expected: [EVIL], found: [EVIL] },
        reasons: [EVIL],
      },
    ],
    unattributedLinkSet: [{ level: EVIL, rcName: EVIL }],
    licenses: { summary: [{ license: EVIL, components: [EVIL], notice: EVIL }], findings: [{ component: EVIL, version: null, license: EVIL, denied: [EVIL], message: EVIL }], deny: [] },
    advisories: [{ id: EVIL, component: '@rump/evil', version: '1.0.0', severity: 'high', summary: EVIL, aliases: [EVIL], references: [] }],
    notes: [EVIL],
  };

  it('shows every string as text: no markup from the report survives', () => {
    const page = renderAuditHtml({ report, size: { image: 'x', target: 'posix-x86_64', fileBytes: 1, allocBytes: 1, unattributed: 0, rows: [{ owner: EVIL, kind: 'component', text: 1, data: 0, bss: 0, total: 1 }] }, treemap: [] });
    expect(page).not.toContain('<script');
    expect(page).not.toContain('<img');
    expect(page.split(escapeHtml(EVIL)).length - 1).toBeGreaterThan(15);
    expect(page).toContain('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; img-src data:">');
  });
});

describe.skipIf(missing.length > 0)('rumpkg audit IMAGE --html (the demo project on hw-x86_64)', () => {
  it('writes one self-contained page: components with evidence, a treemap of the linker map, the graph by evidence', async () => {
    const out = join(world.work, 'audit-1.html');
    const r = await cli(['audit', image, '--cwd', world.project, '--html', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as AuditReport;
    const page = readFileSync(out, 'utf8');
    expect(page).toMatch(/^<!DOCTYPE html>/);
    // Self-contained: no script, no external reference (the SVG namespace is a name, not a fetch).
    expect(page).not.toMatch(/<script|<link|<iframe|@import|url\(/i);
    expect(page.replaceAll('http://www.w3.org/2000/svg', '').replaceAll('http://www.w3.org/1999/xlink', '')).not.toMatch(/https?:\/\//);
    expect(page).not.toMatch(/\ssrc=/);
    expect(page).not.toContain(world.work);
    // Components with their evidence.
    const locked = Object.keys(world.lock.targets['hw-x86_64']!.components);
    const rows = [...page.matchAll(/<tr data-component="([^"]+)">[\s\S]*?<span class="chip ev-([a-z-]+)">/g)].map((m) => [m[1], m[2]]);
    expect(rows.map(([n]) => n)).toEqual(report.components.map((c) => c.name));
    expect(rows.map(([n]) => n).sort()).toEqual(locked);
    expect(new Set(rows.map(([, e]) => e))).toEqual(new Set(['confirmed']));
    expect(page).toContain('netbsd-10-1-RELEASE');
    // The treemap: one box per owner with bytes, its title the bytes of the size report.
    const boxes = [...page.matchAll(/<g class="owner" data-owner="([^"]+)">/g)].map((m) => m[1]);
    expect(boxes.sort()).toEqual([...size.rows.filter((x) => x.total > 0).map((x) => x.owner), ...(size.unattributed > 0 ? ['(unattributed)'] : [])].sort());
    const biggest = size.rows[0]!;
    expect(page).toContain(`<td>${biggest.owner}</td><td>${biggest.kind}</td><td class="num">${biggest.text}</td><td class="num">${biggest.data}</td><td class="num">${biggest.bss}</td><td class="num">${biggest.total}</td>`);
    // The graph: every locked component, drawn green (confirmed).
    const graph = page.slice(page.indexOf('<div class="panel" id="graph">'));
    for (const n of locked) expect(graph).toContain(`<title>hw&#45;x86_64|${n.replace(/-/g, '&#45;')}</title>`);
    expect(graph).toContain('stroke="#2e7d32"');
  });

  it('the same image gives the same bytes: twice, and copied to another directory', async () => {
    const a = join(world.work, 'audit-a.html');
    const b = join(world.work, 'audit-b.html');
    const c = join(world.work, 'audit-c.html');
    expect((await cli(['audit', image, '--cwd', world.project, '--html', a])).code).toBe(0);
    expect((await cli(['audit', image, '--cwd', world.project, '--html', b])).code).toBe(0);
    const elsewhere = join(world.work, 'elsewhere', 'x');
    mkdirSync(elsewhere, { recursive: true });
    copyFileSync(image, join(elsewhere, 'hello-virtio'));
    copyFileSync(`${image}.map`, join(elsewhere, 'hello-virtio.map'));
    expect((await cli(['audit', join(elsewhere, 'hello-virtio'), '--cwd', world.project, '--html', c])).code).toBe(0);
    const bytes = readFileSync(a);
    expect(bytes.length).toBeGreaterThan(10_000);
    expect(readFileSync(b).equals(bytes)).toBe(true);
    expect(readFileSync(c).equals(bytes)).toBe(true);
  });

  it('without the linker map the page says so and still has the rest', async () => {
    const dir = join(world.work, 'no-map');
    mkdirSync(dir, { recursive: true });
    copyFileSync(image, join(dir, 'hello-virtio'));
    const out = join(world.work, 'audit-nomap.html');
    expect((await cli(['audit', join(dir, 'hello-virtio'), '--cwd', world.project, '--html', out])).code).toBe(0);
    const page = readFileSync(out, 'utf8');
    expect(page).toContain('No size report: no linker map next to the image');
    expect(page).not.toContain('<g class="owner"');
    expect(page).toContain('<div class="panel" id="graph">');
  });
});

describe.skipIf(!HAS_CHROMIUM)('what a person sees in Chromium', () => {
  it.skipIf(missing.length > 0)('the audit report: title, components, treemap and graph drawn; no console errors, nothing fetched', async () => {
    const out = join(world.work, 'audit-browser.html');
    expect((await cli(['audit', image, '--cwd', world.project, '--html', out])).code).toBe(0);
    const browser = await openBrowser();
    try {
      const v = await browser.visit(pathToFileURL(out).href);
      const { page } = v;
      await expect(page.locator('h1').innerText()).resolves.toBe('Audit of hello-virtio');
      const seen = await page.locator('main').innerText();
      for (const t of ['@rump/virtio-pci', '@rump/pci', 'confirmed', 'BSD-2-Clause', 'No advisory matched.', 'Size by component', 'Dependency graph']) expect(seen).toContain(t);
      const treemap = await page.locator('svg.treemap').boundingBox();
      expect(treemap!.width).toBeGreaterThan(400);
      expect(treemap!.height).toBeGreaterThan(200);
      expect(await page.locator('svg.treemap g.owner').count()).toBeGreaterThan(5);
      const graph = await page.locator('#graph svg').boundingBox();
      expect(graph!.width).toBeGreaterThan(300);
      expect(await page.locator('#graph svg text', { hasText: 'bus:pci' }).count()).toBe(1);
      const stats = screenshotStats(await browser.screenshot(page, 'audit-report-hello-virtio'));
      expect(stats.colours).toBeGreaterThan(100);
      expect(stats.ink).toBeGreaterThan(0.05);
      expect(v.problems()).toEqual({ console: [], pageErrors: [], dialogs: [], offLoopback: [], failed: [] });
    } finally {
      await browser.close();
    }
  }, 120_000);

  it('the SVG of rumpkg graph: both targets drawn side by side', async () => {
    const out = join(world.work, 'graph-browser.svg');
    expect((await cli(['graph', '--cwd', world.project, '--format', 'svg', '-o', out])).code).toBe(0);
    const browser = await openBrowser();
    try {
      const v = await browser.visit(pathToFileURL(out).href);
      const { page } = v;
      const texts = await page.locator('text').allTextContents();
      for (const t of ['hw-x86_64: 11 components', 'hw-riscv64: 10 components', '@rump/pci', '@rump/virtio-mmio', 'bus:pci', 'bus:virtio', 'hypercall:17']) expect(texts).toContain(t);
      expect(await page.locator('g.cluster').count()).toBe(2);
      const clusters = [(await page.locator('g.cluster').nth(0).boundingBox())!, (await page.locator('g.cluster').nth(1).boundingBox())!];
      expect(clusters[0]!.x + clusters[0]!.width).toBeLessThanOrEqual(clusters[1]!.x);
      const stats = screenshotStats(await browser.screenshot(page, 'graph-hello-virtio'));
      expect(stats.colours).toBeGreaterThan(50);
      expect(stats.ink).toBeGreaterThan(0.02);
      expect(v.problems()).toEqual({ console: [], pageErrors: [], dialogs: [], offLoopback: [], failed: [] });
    } finally {
      await browser.close();
    }
  }, 120_000);
});

afterAll(async () => {
  await releaseDemoWorld();
});
