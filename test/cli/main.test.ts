/** The CLI shell's contract (DESIGN.md §9): version, help, usage errors, typed errors, --json errors. */
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Command } from 'commander';
import { createProgram, main } from '../../cli/main.js';

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

  it('a run builds only its command, identical to that command in the whole tree; unknown words still get a suggestion', async () => {
    // Every command's and subcommand's help text and options, recursively.
    const shape = (c: Command): unknown => ({
      name: c.name(),
      aliases: c.aliases(),
      help: c.helpInformation(),
      options: c.options.map((o) => o.flags),
      commands: c.commands.map(shape),
    });
    const full = createProgram();
    const names = full.commands.flatMap((c) => [c.name(), ...c.aliases()]);
    expect(names.length).toBeGreaterThan(30);
    for (const name of names) {
      const one = createProgram(name);
      const want = full.commands.filter((c) => c.name() === name || c.aliases().includes(name));
      const got = one.commands.filter((c) => c.name() === name || c.aliases().includes(name));
      expect(got.map(shape), name).toEqual(want.map(shape));
      // Only the registration that defines the command ran (login.ts registers a pair).
      expect(one.commands.length, name).toBeLessThanOrEqual(2);
    }
    expect(createProgram('help').commands.length).toBe(full.commands.length);
    expect(createProgram('frobnicate').commands.length).toBe(full.commands.length);
    expect(await main(['biuld'])).toBe(2);
    expect(err).toMatch(/Did you mean build\?/);
    // The command word is found behind global options, --cwd's value skipped.
    expect(await main(['--json', '--cwd', 'build', 'frobnicate'])).toBe(2);
  });
});

