/** The CLI shell's contract (DESIGN.md §9): version, help, usage errors, typed errors, --json errors. */
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';

let out = '';
let err = '';
beforeEach(() => {
  out = '';
  err = '';
  process.exitCode = undefined;
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
});
afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };

describe('rumpkg', () => {
  it('--version and -V print the package version', async () => {
    expect(await main(['--version'])).toBe(0);
    expect(out).toBe(`${pkg.version}\n`);
    out = '';
    expect(await main(['-V'])).toBe(0);
    expect(out).toBe(`${pkg.version}\n`);
  });

  it('--help lists the commands of DESIGN.md §9 and exits 0', async () => {
    expect(await main(['--help'])).toBe(0);
    for (const c of ['init', 'add', 'install', 'build', 'run', 'audit', 'publish', 'registry', 'import', 'verify', 'cache']) {
      expect(out).toMatch(new RegExp(`\\n  ${c}\\b`));
    }
  });

  it('an unknown command or option is a usage error: exit 2', async () => {
    expect(await main(['frobnicate'])).toBe(2);
    expect(err).toMatch(/unknown command/);
    expect(await main(['add', '--no-such-flag', 'x'])).toBe(2);
  });

  it('a typed error prints message and hint without a stack: exit 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rumpkg-cli-'));
    expect(await main(['--cwd', dir, 'tree'])).toBe(1);
    expect(err).toMatch(/^rumpkg: error\[E_NOT_FOUND\]: no rumpkg\.json in /m);
    expect(err).toMatch(/hint: run rumpkg init/);
    expect(err).not.toMatch(/\n\s+at /);
  });

  it('with --json a typed error is a JSON document on stdout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rumpkg-cli-'));
    expect(await main(['--json', '--cwd', dir, 'tree'])).toBe(1);
    const doc = JSON.parse(out) as { error: { code: string; message: string; hint?: string } };
    expect(doc.error.code).toBe('E_NOT_FOUND');
    expect(doc.error.hint).toMatch(/rumpkg init/);
  });
});
