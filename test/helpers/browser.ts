/**
 * A real browser for the tests of what a person looks at: Debian's Chromium (/usr/bin/chromium,
 * installed by .ci/run) driven headless by playwright-core, in a fresh profile, with nothing
 * reaching beyond loopback (every request to another host is aborted and counted).
 *
 *   const b = await openBrowser();                  // skip the test when !HAS_CHROMIUM
 *   const v = await b.visit('http://127.0.0.1:…/');  // v.page, v.problems()
 *   const shot = await b.screenshot(v.page, 'registry-index');  // PNG saved under SCREENSHOTS
 *   screenshotStats(shot)                             // colours, ink: is it blank?
 *   await b.close();
 *
 * Screenshots are test artefacts: they are kept under SCREENSHOTS (a directory in the system temp
 * dir, or $RUMPKG_SCREENSHOTS) for a person to look at after the run.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const HAS_CHROMIUM = existsSync(CHROMIUM);
if (!HAS_CHROMIUM) console.warn(`browser tests skipped: ${CHROMIUM} is missing (Debian package chromium; .ci/run installs it)`);

export const SCREENSHOTS = process.env.RUMPKG_SCREENSHOTS ?? join(tmpdir(), 'rumpkg-screenshots');

export interface Visit {
  page: Page;
  /** Console errors, uncaught page errors, dialogs (alert/confirm/prompt) and off-loopback requests so far. */
  problems(): { console: string[]; pageErrors: string[]; dialogs: string[]; offLoopback: string[]; failed: string[] };
}

export interface TestBrowser {
  visit(url: string, options?: { width?: number; height?: number }): Promise<Visit>;
  /** A full-page PNG, saved as SCREENSHOTS/<name>.png; returns its bytes. */
  screenshot(page: Page, name: string): Promise<Buffer>;
  close(): Promise<void>;
}

const LOOPBACK = /^(?:https?|wss?):\/\/(?:127\.\d+\.\d+\.\d+|localhost|\[::1\])(?::\d+)?\//;

export async function openBrowser(): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'rumpkg-chromium-profile-'));
  const context: BrowserContext = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
    colorScheme: 'light',
    timeout: 60_000,
  });
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    async visit(url, options = {}) {
      const page = await context.newPage();
      await page.setViewportSize({ width: options.width ?? 1280, height: options.height ?? 900 });
      const found = { console: [] as string[], pageErrors: [] as string[], dialogs: [] as string[], offLoopback: [] as string[], failed: [] as string[] };
      page.on('console', (m) => {
        if (m.type() === 'error') found.console.push(m.text());
      });
      page.on('pageerror', (e) => found.pageErrors.push(e.message));
      page.on('dialog', (d) => {
        found.dialogs.push(`${d.type()}: ${d.message()}`);
        void d.dismiss();
      });
      page.on('requestfailed', (r) => {
        if (!found.offLoopback.includes(r.url())) found.failed.push(`${r.url()} ${r.failure()?.errorText ?? ''}`);
      });
      await page.route('**/*', (route) => {
        const u = route.request().url();
        if (LOOPBACK.test(u) || u.startsWith('file:') || u.startsWith('data:') || u === 'about:blank') return route.continue();
        found.offLoopback.push(u);
        return route.abort('blockedbyclient');
      });
      await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
      return { page, problems: () => structuredClone(found) };
    },
    async screenshot(page, name) {
      // The whole page: the viewport grown to the document (playwright's own fullPage mode waits
      // forever on Debian's Chromium here; a plain viewport capture works).
      const vp = page.viewportSize() ?? { width: 1280, height: 900 };
      // A string: this runs in the page (the tests are typed for node, without the DOM's types).
      const size = (await page.evaluate('({ w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight })')) as { w: number; h: number };
      await page.setViewportSize({ width: Math.min(Math.max(vp.width, size.w), 4000), height: Math.min(Math.max(300, size.h), 12000) });
      const png = await page.screenshot({ type: 'png', animations: 'disabled', timeout: 30_000 });
      writeFileSync(join(SCREENSHOTS, `${name}.png`), png);
      return png;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface ScreenshotStats {
  width: number;
  height: number;
  /** Distinct RGB colours. */
  colours: number;
  /** Share of pixels that are not (near) white. */
  ink: number;
}

/** What a PNG shows, roughly: a blank page has one or two colours and no ink. */
export function screenshotStats(png: Buffer): ScreenshotStats {
  const img = PNG.sync.read(png);
  const colours = new Set<number>();
  let ink = 0;
  const n = img.width * img.height;
  for (let i = 0; i < n; i++) {
    const r = img.data[i * 4]!;
    const g = img.data[i * 4 + 1]!;
    const b = img.data[i * 4 + 2]!;
    colours.add((r << 16) | (g << 8) | b);
    if (r < 235 || g < 235 || b < 235) ink++;
  }
  return { width: img.width, height: img.height, colours: colours.size, ink: ink / n };
}
