/**
 * The registry's web UI (registry/web/) on a real server over loopback: the component list and
 * pages as HTML (every value escaped: a component whose description, keywords, upstream project
 * and yank reason are markup shows them as text), the npm routes answering exactly as before, and
 * the demo registry (the corpus's newest release) with its dependency graphs drawn per target;
 * then in headless Chromium: what a person sees, live search, copying, no console errors, and the
 * hostile component never running a script (no dialog opens).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { packComponent } from '../../components/index.js';
import { renderResolutionSvg } from '../../packager/index.js';
import { createFileStorage, createRegistryServer, escapeHtml, html, pageCsp, PAGE_SCRIPT, trustedHtml, type RegistryServer } from '../../registry/index.js';
import { HAS_CHROMIUM, openBrowser, screenshotStats, type TestBrowser } from '../helpers/browser.js';
import { demoWorld, releaseDemoWorld, type DemoWorld } from '../helpers/demo.js';
import { manifestJson, writeComponentDir } from '../helpers/tar.js';
import { raw, tempDir } from './server-fixtures.js';

const EVIL = `<script>alert("desc")</script><img src=x onerror="alert('img')"><b>bold</b> & "quotes"`;
const EVIL_UPSTREAM = `<svg onload=alert('up')>NetBSD`;
const EVIL_YANK = `</td><script>alert('yank')</script>`;

async function publishFixture(dir: string, patch: Record<string, unknown>, version: string): Promise<void> {
  const src = tempDir('web-fixture');
  const base = manifestJson();
  writeComponentDir(src, {}, manifestJson({ version, ...patch, rump: { ...(base.rump as object), ...((patch.rump as object | undefined) ?? {}) } }));
  await createFileStorage(dir).publish((await packComponent(src)).data);
}

let hostileDir: string;
let hostile: RegistryServer;
let demo: RegistryServer;
let world: DemoWorld;

beforeAll(async () => {
  hostileDir = tempDir('web-hostile');
  const evil = {
    name: '@rump/evil',
    description: EVIL,
    keywords: ['rump-component', '<i>evil</i><script>alert(5)</script>'],
    rump: { lib: 'librumpevil', aliases: ['rumpevil'], requires: [], upstream: { project: EVIL_UPSTREAM, repository: 'NetBSD/src', ref: 'netbsd-10-0-RELEASE', path: 'sys/rump/evil' } },
    dependencies: {},
  };
  await publishFixture(hostileDir, evil, '1.0.0');
  await publishFixture(hostileDir, evil, '1.1.0');
  await createFileStorage(hostileDir).yank('@rump/evil', '1.1.0', { reason: EVIL_YANK });
  await publishFixture(hostileDir, { name: '@rump/net', description: 'network faction', dependencies: {}, rump: { lib: 'librumpnet', aliases: ['rumpnetfaction'], requires: [] } }, '10.0.0');
  await publishFixture(hostileDir, { name: '@rump/tcpip', dependencies: { '@rump/net': '^10.0.0' }, rump: { requires: [] } }, '10.0.0');
  hostile = await createRegistryServer(hostileDir, { web: { renderGraph: renderResolutionSvg } });
  world = await demoWorld();
  demo = await createRegistryServer(world.registry, { web: { renderGraph: renderResolutionSvg } });
}, 900_000);

afterAll(async () => {
  await hostile?.close();
  await demo?.close();
});

const text = (r: { body: Buffer }): string => r.body.toString('utf8');

describe('the one escape', () => {
  it('escapes & < > " and \' and nothing is inserted unescaped but Html', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&amp;</a>`)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
    const list = ['<i>', trustedHtml('<b>ok</b>')];
    expect(html`<p title="${'"x"'}">${EVIL}${list}${null}${undefined}${false}${0}</p>`.markup).toBe(
      `<p title="&quot;x&quot;">${escapeHtml(EVIL)}&lt;i&gt;<b>ok</b>0</p>`,
    );
  });
});

describe('registry web UI over HTTP', () => {
  it('GET / lists the components; hostile text is escaped; ?q= pre-filters (rows hidden, not removed)', async () => {
    const r = await raw(hostile.url, 'GET', '/');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['content-security-policy']).toBe(pageCsp());
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    const body = text(r);
    expect(body).toContain(escapeHtml(EVIL));
    expect(body).not.toContain('<script>alert');
    expect(body).not.toContain('<img src=x');
    // The only script is the page's own, allowed by hash.
    const scripts = [...body.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
    expect(scripts).toEqual([PAGE_SCRIPT]);
    expect(pageCsp()).toContain(`'sha256-${createHash('sha256').update(PAGE_SCRIPT).digest('base64')}'`);
    expect(body.match(/<tr data-search=/g)).toHaveLength(3);
    expect(body).toContain('<a href="/-/web/component/%40rump/tcpip">@rump/tcpip</a>');

    const q = text(await raw(hostile.url, 'GET', '/?q=network'));
    expect(q).toContain('1 of 3 components');
    expect(q.match(/<tr data-search="[^"]*" hidden>/g)).toHaveLength(2);
    const evilQ = text(await raw(hostile.url, 'GET', `/?q=${encodeURIComponent('"><script>alert(9)</script>')}`));
    expect(evilQ).toContain('value="&quot;&gt;&lt;script&gt;alert(9)&lt;/script&gt;"');
    expect(evilQ).toContain('0 of 3 components');
  });

  it('a component page: versions (yanked marked, reason as text), dependencies, upstream, integrity, the add line', async () => {
    for (const path of ['/-/web/component/@rump/evil', '/-/web/component/%40rump%2Fevil']) {
      const r = await raw(hostile.url, 'GET', path);
      expect(r.status).toBe(200);
      const body = text(r);
      expect(body).toContain('<code id="add-line">rumpkg add evil</code>');
      expect(body).toContain(escapeHtml(EVIL));
      expect(body).toContain(escapeHtml(EVIL_UPSTREAM));
      expect(body).toContain(escapeHtml(EVIL_YANK));
      expect(body).not.toMatch(/<script>alert|<img src=x|<svg onload|<\/td><script/);
      // The latest is 1.0.0: 1.1.0 is yanked, struck through, with its reason.
      expect(body).toMatch(/<h1>@rump\/evil <span class="muted">1\.0\.0<\/span>/);
      expect(body).toMatch(/<tr class="yanked"><td class="v">1\.1\.0<\/td>[\s\S]*?<span class="chip yanked">yanked<\/span> &lt;\/td&gt;&lt;script&gt;alert\(&#39;yank&#39;\)&lt;\/script&gt;<\/td><\/tr>/);
      const pkg = (await raw(hostile.url, 'GET', '/@rump%2fevil')).json() as { versions: Record<string, { dist: { integrity: string } }> };
      expect(body).toContain(`<code>${pkg.versions['1.0.0']!.dist.integrity}</code>`);
      expect(body).toContain('sys/rump/evil');
    }
    const tcpip = text(await raw(hostile.url, 'GET', '/-/web/component/@rump/tcpip'));
    expect(tcpip).toContain('<a href="/-/web/component/%40rump/net">@rump/net</a> <code>^10.0.0</code>');
    expect(tcpip).toContain('<h3 id="target-posix-x86_64">posix-x86_64');
    expect(tcpip).toMatch(/<div class="graph"><svg /);
    expect(tcpip).toContain('Closure (2)');
  });

  it('unknown pages and names are HTML 404s; writes keep the npm answers; the npm routes are unchanged', async () => {
    for (const p of ['/-/web/component/@rump/nothing', '/-/web/component/..%2f..%2fetc', '/-/web/nothing', '/-/web/component/%E0%A4%A']) {
      const r = await raw(hostile.url, 'GET', p);
      expect(r.status, p).toBe(404);
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    }
    expect((await raw(hostile.url, 'HEAD', '/')).status).toBe(200);
    expect((await raw(hostile.url, 'HEAD', '/')).body.length).toBe(0);
    expect((await raw(hostile.url, 'POST', '/-/web/component/@rump/evil')).status).toBe(405);
    const put = await raw(hostile.url, 'PUT', '/', { body: {} });
    expect(put.status).toBe(400);
    expect(put.headers['content-type']).toBe('application/json; charset=utf-8');
    expect((await raw(hostile.url, 'GET', '/-/ping')).json()).toEqual({});
    const pack = await raw(hostile.url, 'GET', '/@rump%2ftcpip');
    expect(pack.headers['content-type']).toBe('application/json; charset=utf-8');
    expect((pack.json() as { name: string }).name).toBe('@rump/tcpip');
    expect((await raw(hostile.url, 'GET', '/@rump/tcpip/10.0.0')).status).toBe(200);
    expect((await raw(hostile.url, 'GET', '/@rump%2fnothing')).status).toBe(404);
    const search = (await raw(hostile.url, 'GET', '/-/v1/search?text=tcpip')).json() as { total: number };
    expect(search.total).toBe(1);
    // Off: GET / is the npm 400 again.
    const off = await createRegistryServer(hostileDir, { web: false });
    try {
      expect((await raw(off.url, 'GET', '/')).status).toBe(400);
    } finally {
      await off.close();
    }
  });

  it('the demo registry: virtio-net drawn per target (virtio-pci + pci on hw-x86_64, virtio-mmio on hw-riscv64; posix-x86_64 as far as it goes)', async () => {
    const body = text(await raw(demo.url, 'GET', '/-/web/component/@rump/virtio-net'));
    const section = (t: string): string => body.slice(body.indexOf(`<h3 id="target-${t}">`), body.indexOf('<h3 ', body.indexOf(`<h3 id="target-${t}">`) + 4));
    expect(section('hw-x86_64')).toContain('<title>hw&#45;x86_64|@rump/pci</title>');
    expect(section('hw-x86_64')).toContain('<title>hw&#45;x86_64|@rump/virtio&#45;pci</title>');
    expect(section('hw-x86_64')).not.toContain('virtio&#45;mmio</title>');
    expect(section('hw-riscv64')).toContain('<title>hw&#45;riscv64|@rump/virtio&#45;mmio</title>');
    expect(section('hw-riscv64')).toContain('>bus:virtio</text>');
    const index = text(await raw(demo.url, 'GET', '/'));
    expect(index.match(/<tr data-search=/g)!.length).toBeGreaterThan(100);
  });
});

describe.skipIf(!HAS_CHROMIUM)('registry web UI in Chromium', () => {
  let browser: TestBrowser;
  beforeAll(async () => {
    browser = await openBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('the list: a person sees the components; typing filters the rows; nothing runs from a description', async () => {
    const v = await browser.visit(`${demo.url}/`);
    const { page } = v;
    await expect(page.locator('h1').textContent()).resolves.toBe('Components');
    const rows = page.locator('#components tbody tr');
    const total = await rows.count();
    expect(total).toBeGreaterThan(100);
    expect(await page.locator('#components tbody tr:visible').count()).toBe(total);
    await page.locator('#q').fill('virtio');
    const shown = await page.locator('#components tbody tr:visible').count();
    expect(shown).toBeGreaterThan(2);
    expect(shown).toBeLessThan(total / 4);
    for (const name of await page.locator('#components tbody tr:visible td:first-child a').allTextContents()) {
      expect(name.includes('virtio') || (await page.locator(`tr:visible:has(a:text-is("${name}"))`).getAttribute('data-search'))!.includes('virtio')).toBe(true);
    }
    await expect(page.locator('#count').textContent()).resolves.toBe(`${shown} of ${total} components`);
    await page.locator('#q').fill('virtio hw-riscv64 mmio');
    const narrow = await page.locator('#components tbody tr:visible td:first-child a').allTextContents();
    expect(narrow).toContain('@rump/virtio-mmio');
    expect(narrow).not.toContain('@rump/virtio-pci');
    expect(narrow.length).toBeLessThan(4);
    await page.locator('#q').fill('');
    const shot = await browser.screenshot(page, 'registry-index');
    // A person clicks through to a component.
    await page.locator('#q').fill('mmio');
    await page.locator('#components tbody tr:visible a', { hasText: '@rump/virtio-mmio' }).click();
    await page.waitForURL(/\/-\/web\/component\/%40rump\/virtio-mmio$/);
    await expect(page.locator('h1').innerText()).resolves.toMatch(/^@rump\/virtio-mmio /);
    const stats = screenshotStats(shot);
    expect(stats.colours).toBeGreaterThan(50);
    expect(stats.ink).toBeGreaterThan(0.05);
    expect(v.problems()).toEqual({ console: [], pageErrors: [], dialogs: [], offLoopback: [], failed: [] });
  }, 120_000);

  it('a component page: facts, versions and the graph a person sees; the add line copies', async () => {
    const v = await browser.visit(`${demo.url}/-/web/component/@rump/virtio-net`);
    const { page } = v;
    await expect(page.locator('h1').innerText()).resolves.toMatch(/^@rump\/virtio-net 10\.1\.0/);
    await expect(page.locator('#add-line').innerText()).resolves.toBe('rumpkg add virtio-net');
    const visible = await page.locator('main').innerText();
    for (const t of ['Licence', 'BSD-2-Clause', 'Integrity', 'sha512-', 'Upstream', 'NetBSD/src', 'Requires capabilities', 'bus:virtio', 'hw-x86_64', 'hw-riscv64', 'Versions']) expect(visible).toContain(t);
    const svgs = page.locator('.graph svg');
    expect(await svgs.count()).toBeGreaterThanOrEqual(2);
    const box = await svgs.first().boundingBox();
    expect(box!.width).toBeGreaterThan(300);
    expect(box!.height).toBeGreaterThan(300);
    expect(await page.locator('.graph svg text', { hasText: 'bus:pci' }).count()).toBeGreaterThan(0);
    await page.locator('button[data-copy="add-line"]').click();
    await expect(page.locator('button[data-copy="add-line"]').innerText()).resolves.toMatch(/^(Copied|Copy)$/);
    const stats = screenshotStats(await browser.screenshot(page, 'registry-component-virtio-net'));
    expect(stats.colours).toBeGreaterThan(100);
    expect(stats.ink).toBeGreaterThan(0.05);
    expect(v.problems()).toEqual({ console: [], pageErrors: [], dialogs: [], offLoopback: [], failed: [] });
  }, 120_000);

  it('hostile descriptions, keywords, upstream and yank reasons are shown as text and never execute', async () => {
    for (const [path, shot] of [
      ['/', 'registry-hostile-index'],
      ['/?q=%22%3E%3Cscript%3Ealert(9)%3C%2Fscript%3E', 'registry-hostile-query'],
      ['/-/web/component/@rump/evil', 'registry-hostile-component'],
    ] as const) {
      const v = await browser.visit(`${hostile.url}${path}`);
      await v.page.waitForTimeout(300);
      const seen = await v.page.locator('main').innerText();
      if (!path.includes('q=')) {
        expect(seen).toContain('<script>alert("desc")</script>');
        expect(seen).toContain(`<img src=x onerror="alert('img')">`);
      }
      if (path.includes('evil')) {
        expect(seen).toContain(EVIL_UPSTREAM);
        expect(seen).toContain(EVIL_YANK);
        expect(await v.page.locator('tr.yanked td.v').innerText()).toBe('1.1.0');
      }
      expect(await v.page.locator('main img, main b, main i, main script, main svg[onload]').count()).toBe(0);
      if (!path.includes('evil')) expect(await v.page.locator('#q').inputValue()).toBe(path.includes('q=') ? '"><script>alert(9)</script>' : '');
      await browser.screenshot(v.page, shot);
      expect(v.problems()).toEqual({ console: [], pageErrors: [], dialogs: [], offLoopback: [], failed: [] });
    }
  }, 120_000);
});

afterAll(async () => {
  await releaseDemoWorld();
});
