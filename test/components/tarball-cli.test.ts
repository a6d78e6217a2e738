/**
 * `rumpkg pack` and `rumpkg inspect` through the CLI entry point (`main` of cli/main.ts): a
 * good component and EX-* tarballs (exit 1, the typed message naming the entry, no stack).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { integrityOf } from '../../components/index.js';
import { buildTar, componentEntries, file, gz, writeComponentDir } from '../helpers/tar.js';
import { runCli } from '../helpers/cli.js';

const bases: string[] = [];
afterEach(() => {
  for (const b of bases.splice(0)) rmSync(b, { recursive: true, force: true });
  process.exitCode = undefined;
  vi.restoreAllMocks();
});
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), 'rumpkg-cli-'));
  bases.push(d);
  return d;
}

const run = runCli;

describe('rumpkg pack', () => {
  it('writes ./rump-tcpip-10.0.0.tgz in --cwd and prints exactly {file, integrity, size} with --json', async () => {
    const base = temp();
    writeComponentDir(join(base, 'tcpip'));
    const r = await run(['pack', 'tcpip', '--json', '--cwd', base]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['file', 'integrity', 'size']);
    expect(out.file).toBe(join(base, 'rump-tcpip-10.0.0.tgz'));
    const bytes = readFileSync(join(base, 'rump-tcpip-10.0.0.tgz'));
    expect(out.integrity).toBe(integrityOf(bytes));
    expect(out.size).toBe(bytes.length);
    expect(readdirSync(base).sort()).toEqual(['rump-tcpip-10.0.0.tgz', 'tcpip']); // no temp files left
  });

  it('honours -o and prints the file and integrity for humans; the same content packs to the same integrity', async () => {
    const base = temp();
    writeComponentDir(join(base, 'c'));
    const r = await run(['pack', join(base, 'c'), '-o', join(base, 'out.tgz')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(join(base, 'out.tgz'));
    expect(r.stdout).toContain(integrityOf(readFileSync(join(base, 'out.tgz'))));
    const again = await run(['pack', join(base, 'c'), '-o', join(base, 'again.tgz'), '--json']);
    expect(JSON.parse(again.stdout).integrity).toBe(integrityOf(readFileSync(join(base, 'out.tgz'))));
  });

  it('refuses an invalid component with exit 1 and no output file', async () => {
    const base = temp();
    writeComponentDir(join(base, 'c'));
    rmSync(join(base, 'c/lib'), { recursive: true });
    const r = await run(['pack', join(base, 'c'), '--cwd', base]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('E_MANIFEST');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(readdirSync(base)).toEqual(['c']);
  });
});

describe('rumpkg inspect', () => {
  it('shows the manifest summary and the file list of a good tarball', async () => {
    const base = temp();
    writeComponentDir(join(base, 'c'));
    await run(['pack', join(base, 'c'), '-o', join(base, 'c.tgz')]);
    const r = await run(['inspect', join(base, 'c.tgz')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('@rump/tcpip@10.0.0');
    expect(r.stdout).toContain('librumpnet_netinet');
    expect(r.stdout).toContain('BSD-2-Clause');
    expect(r.stdout).toContain('posix-x86_64');
    expect(r.stdout).toContain('@rump/net ^10.0.0');
    expect(r.stdout).toContain('hypercall:17');
    expect(r.stdout).toContain('lib/posix-x86_64/librumpnet_netinet.a');
  });

  it('--json gives the same as data; --extract unpacks; --integrity is checked', async () => {
    const base = temp();
    writeComponentDir(join(base, 'c'));
    await run(['pack', join(base, 'c'), '-o', join(base, 'c.tgz')]);
    const sri = integrityOf(readFileSync(join(base, 'c.tgz')));
    const r = await run(['inspect', join(base, 'c.tgz'), '--json', '--integrity', sri, '--extract', join(base, 'x')]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { name: string; integrity: string; files: Array<{ path: string }>; extracted: string; requires: string[] };
    expect([out.name, out.integrity, out.extracted]).toEqual(['@rump/tcpip', sri, join(base, 'x')]);
    expect(out.requires).toEqual(['hypercall:17']);
    expect(out.files.map((f) => f.path)).toContain('package.json');
    expect(existsSync(join(base, 'x/lib/posix-x86_64/librumpnet_netinet.a'))).toBe(true);
    const bad = await run(['inspect', join(base, 'c.tgz'), '--integrity', integrityOf(Buffer.from('x'))]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('E_INTEGRITY');
  });

  it('exits 1 with the typed message naming the entry, no stack, for an EX-01 tarball', async () => {
    const base = temp();
    writeFileSync(join(base, 'canary.txt'), 'original');
    const tgz = gz(buildTar([...componentEntries(), file('package/../../canary.txt', 'pwned')]));
    writeFileSync(join(base, 'evil.tgz'), tgz);
    const r = await run(['inspect', join(base, 'evil.tgz'), '--extract', join(base, 'out')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error[E_TAR_PATH]');
    expect(r.stderr).toContain('package/../../canary.txt');
    expect(r.stderr).toContain('hint:');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
    expect(readFileSync(join(base, 'canary.txt'), 'utf8')).toBe('original');
    expect(readdirSync(base).sort()).toEqual(['canary.txt', 'evil.tgz']);
  });

  it('exits 1 with E_TAR_ENTRY_TYPE for a symlink tarball, as JSON with --json', async () => {
    const base = temp();
    const tgz = gz(buildTar([...componentEntries(), { path: 'package/link', type: 'SymbolicLink', linkpath: '/etc' }]));
    writeFileSync(join(base, 'link.tgz'), tgz);
    const r = await run(['inspect', join(base, 'link.tgz'), '--json']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    expect(out.error.code).toBe('E_TAR_ENTRY_TYPE');
    expect(out.error.message).toContain('package/link');
  });
});
