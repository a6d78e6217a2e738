/**
 * `rumpkg registry token add|revoke|list` and `rumpkg registry serve` through the CLI entry
 * point (in-process): the token is printed once and only its hash is stored; serve prints its
 * URL, serves, and stops on SIGINT.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';
import { raw, tempDir } from './server-fixtures.js';

function capture(): { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
  return { out: () => out, err: () => err };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('rumpkg registry', () => {
  it('token add prints a token once; the registry keeps only its hash; revoke and list', async () => {
    const dir = tempDir('cli-tokens');
    let c = capture();
    expect(await main(['registry', 'token', 'add', 'alice', '--dir', dir])).toBe(0);
    const token = c.out().trim();
    expect(token).toMatch(/^rumpkg_/);
    expect(readFileSync(join(dir, '.registry', 'tokens.json'), 'utf8')).not.toContain(token);
    vi.restoreAllMocks();

    c = capture();
    expect(await main(['registry', 'token', 'list', '--dir', dir, '--json'])).toBe(0);
    expect(JSON.parse(c.out())).toEqual([{ user: 'alice', tokens: 1 }]);
    vi.restoreAllMocks();

    c = capture();
    expect(await main(['registry', 'token', 'revoke', 'alice', '--dir', dir])).toBe(0);
    expect(await main(['registry', 'token', 'revoke', 'alice', '--dir', dir])).toBe(1);
    expect(c.err()).toContain('E_NOT_FOUND');
    expect(await main(['registry', 'token', 'add', '../evil', '--dir', dir])).toBe(2);
    expect(c.out() + c.err()).not.toContain(token);
  });

  it('serve prints the URL, answers requests and stops on SIGINT', async () => {
    const dir = tempDir('cli-serve');
    const c = capture();
    const running = main(['registry', 'serve', dir, '--port', '0', '--host', '127.0.0.1']);
    let url = '';
    for (let i = 0; i < 200 && url === ''; i++) {
      await new Promise((r) => setTimeout(r, 10));
      url = /http:\/\/127\.0\.0\.1:\d+/.exec(c.out())?.[0] ?? '';
    }
    expect(url).not.toBe('');
    expect((await raw(url, 'GET', '/-/ping')).status).toBe(200);
    expect((await raw(url, 'GET', '/@rump%2fnothing')).status).toBe(404);
    process.emit('SIGINT');
    expect(await running).toBe(0);
    await expect(raw(url, 'GET', '/-/ping')).rejects.toThrow();
    expect(await main(['registry', 'serve', dir, '--port', 'nope'])).toBe(2);
  });
});
