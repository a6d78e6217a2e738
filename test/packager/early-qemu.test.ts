/**
 * The early boot's facts (packager/run/early-qemu.ts) without QEMU: which memos the launcher acts
 * on. A memo is acted on only for the same command line, directory and deciding environment, with
 * every program found where it was and every file identity unchanged; recorded only when every
 * identity is settled. The boot through the shipped launcher is in hw.test.ts (QEMU).
 */
import { chmodSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findProgram } from '../../packager/index.js';
import type { ConsoleSpec } from '../../packager/run/console.js';
import { RACY_MARGIN_NS, RACY_MARGIN_WHOLE_SECONDS_NS, decidingEnv, factIsSettled, factOf, programLookup } from '../../packager/early/index.js';
import { RUN_MEMO_VERSION, recordEarlyBoot, runMemoFile, startEarlyQemu, type RunMemo } from '../../packager/run/early-qemu.js';
import { homePaths } from '../../registry/index.js';
import { noProcess } from '../helpers/process.js';
import { tempDirsRemovedAfterAll } from './helpers.js';

const temp = tempDirsRemovedAfterAll();
const SLEEP = findProgram('sleep') as string;

/** A project directory with one input file, a program on PATH, and a memo naming them (written here: startEarlyQemu does not ask whether it is settled, recordEarlyBoot does). */
function setup(): { dir: string; env: NodeJS.ProcessEnv; input: string; memo: RunMemo; file: string; bin: string } {
  const root = temp('rumpkg-early-qemu-');
  const dir = join(root, 'project');
  const bin = join(root, 'bin');
  mkdirSync(dir);
  mkdirSync(bin);
  const input = join(dir, 'rumpkg.json');
  writeFileSync(input, '{}\n');
  writeFileSync(join(bin, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  const env = { PATH: `${bin}:${process.env.PATH}`, RUMPKG_HOME: join(root, 'home') };
  const memo: RunMemo = {
    v: RUN_MEMO_VERSION,
    cwd: dir,
    argv: ['run'],
    env: decidingEnv(env),
    facts: [factOf(input), factOf(join(dir, 'absent')), ...(programLookup('tool', env.PATH) as string[]).map(factOf)],
    spawn: [SLEEP, '41.2718'],
  };
  const file = runMemoFile(homePaths(env.RUMPKG_HOME).objects, dir);
  mkdirSync(join(env.RUMPKG_HOME, 'objects', 'early'), { recursive: true });
  writeFileSync(file, JSON.stringify(memo));
  return { dir, env, input, memo, file, bin };
}

async function startsWith(memoFile: string, memo: unknown, argv: string[], env: NodeJS.ProcessEnv, cwd: string, finishes = false): Promise<boolean> {
  writeFileSync(memoFile, typeof memo === 'string' ? memo : JSON.stringify(memo));
  const early = startEarlyQemu(argv, env, cwd);
  if (early === undefined) return false;
  expect(early.finish !== undefined).toBe(finishes);
  expect(early.spawn).toEqual([SLEEP, '41.2718']);
  expect(noProcess('sleep 41.2718')).toBe(false);
  await early.discard();
  expect(noProcess('sleep 41.2718')).toBe(true);
  return true;
}

describe('the early boot of rumpkg run: its facts', () => {
  it('starts the memo\'s command only when the command line, directory, environment, programs and identities are the memo\'s', async () => {
    const { dir, env, input, memo, file, bin } = setup();
    expect(await startsWith(file, memo, ['run'], env, dir)).toBe(true);
    expect(await startsWith(file, memo, ['run', '--verbose'], env, dir)).toBe(false);
    expect(await startsWith(file, memo, ['run'], { ...env, RUMPKG_REGISTRY: 'x' }, dir)).toBe(false);
    expect(await startsWith(file, memo, ['run'], { ...env, PATH: process.env.PATH }, dir)).toBe(false);
    // set by the shipped command on every run: not a decision
    expect(await startsWith(file, memo, ['run'], { ...env, RUMPKG_DEFERRED_CA_CERTS: '/x.pem' }, dir)).toBe(true);
    expect(await startsWith(file, { ...memo, v: RUN_MEMO_VERSION - 1 }, ['run'], env, dir)).toBe(false);
    expect(await startsWith(file, '{"v":1,"argv":', ['run'], env, dir)).toBe(false);
    expect(await startsWith(file, `${JSON.stringify(memo)}${' '.repeat(1024 * 1024)}`, ['run'], env, dir)).toBe(false);
    expect(await startsWith(file, { ...memo, facts: [[input, 1, 2, 3, 4, 5]] }, ['run'], env, dir)).toBe(false);
    // the file's bytes changed, its size not: the times differ
    writeFileSync(input, '[]\n');
    expect(await startsWith(file, memo, ['run'], env, dir)).toBe(false);
    // …also rewritten with the same size and its modification time set back: the status-change time moved
    utimesSync(input, 1_000_000_000, 1_000_000_000);
    const pinned = { ...memo, facts: [factOf(input)] };
    expect(await startsWith(file, pinned, ['run'], env, dir)).toBe(true);
    writeFileSync(input, '{}\n');
    utimesSync(input, 1_000_000_000, 1_000_000_000);
    expect(factOf(input)[4]).toBe((pinned.facts[0] as string[])[4]);
    expect(await startsWith(file, pinned, ['run'], env, dir)).toBe(false);
    // an absent file that now exists
    writeFileSync(join(dir, 'absent'), '');
    const toolFacts = memo.facts.slice(2);
    expect(await startsWith(file, { ...memo, facts: [factOf(input), [join(dir, 'absent')], ...toolFacts] }, ['run'], env, dir)).toBe(false);
    expect(await startsWith(file, { ...memo, facts: [factOf(input), factOf(join(dir, 'absent')), ...toolFacts] }, ['run'], env, dir)).toBe(true);
    // a program no longer found where it was (not executable any more)
    chmodSync(join(bin, 'tool'), 0o644);
    expect(await startsWith(file, { ...memo, facts: [factOf(input), factOf(join(dir, 'absent')), ...toolFacts] }, ['run'], env, dir)).toBe(false);
  });

  it('a memo that says how the run read its console lets the launcher finish the run; a malformed one, or a rumprun disk image that is not a file, starts nothing', async () => {
    const { dir, env, memo, file } = setup();
    const disk = join(dir, 'disk.img');
    writeFileSync(disk, '');
    const glue: ConsoleSpec = { convention: 'glue', image: join(dir, 'img'), target: 'hw-x86_64', arch: 'x86_64', emulator: ['qemu-system-x86_64'], timeoutMs: 30_000, verbose: false };
    const rumprun: ConsoleSpec = { convention: 'rumprun', image: join(dir, 'img'), target: 'hw-x86_64', emulator: ['qemu-system-x86_64'], timeoutMs: 30_000, drives: [disk] };
    expect(await startsWith(file, memo, ['run'], env, dir, false)).toBe(true);
    expect(await startsWith(file, { ...memo, console: glue }, ['run'], env, dir, true)).toBe(true);
    expect(await startsWith(file, { ...memo, console: rumprun }, ['run'], env, dir, true)).toBe(true);
    expect(await startsWith(file, { ...memo, console: { ...glue, arch: 'mips' } }, ['run'], env, dir)).toBe(false);
    expect(await startsWith(file, { ...memo, console: { ...glue, timeoutMs: 0 } }, ['run'], env, dir)).toBe(false);
    expect(await startsWith(file, { ...memo, console: { ...rumprun, drives: [1] } }, ['run'], env, dir)).toBe(false);
    expect(await startsWith(file, { ...memo, console: { ...rumprun, convention: 'other' } }, ['run'], env, dir)).toBe(false);
    expect(await startsWith(file, { ...memo, console: { ...rumprun, drives: [dir] } }, ['run'], env, dir)).toBe(false); // a directory
    expect(await startsWith(file, { ...memo, console: { ...rumprun, drives: [join(dir, 'gone.img')] } }, ['run'], env, dir)).toBe(false);
  });

  it('a program that appears earlier on PATH changes a fact of its lookup', () => {
    const { bin } = setup();
    const earlier = temp('rumpkg-early-qemu-bin-');
    const path = `${earlier}:${bin}`;
    const facts = (programLookup('tool', path) as string[]).map(factOf);
    expect(facts.map((f) => f[0])).toEqual([join(earlier, 'tool'), join(bin, 'tool')]);
    expect(facts[0]).toHaveLength(1); // absent
    writeFileSync(join(earlier, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
    expect(factOf(join(earlier, 'tool'))).toHaveLength(6);
    expect(findProgram('tool', path)).toBe(join(earlier, 'tool'));
  });

  it('records a memo only when every identity is settled, and drops a stale one then', () => {
    const { dir, env, input, file } = setup();
    const now = BigInt(Date.now()) * 1_000_000n;
    expect(factIsSettled(factOf(input), now)).toBe(false);
    expect(factIsSettled(factOf(input), now + RACY_MARGIN_NS + 1_000_000_000n)).toBe(true);
    expect(factIsSettled([join(dir, 'absent')], now)).toBe(true);
    // whole-second times (a file system that keeps seconds) need the longer margin
    const whole: ReturnType<typeof factOf> = [input, '1', '2', '3', '5000000000', '5000000000'];
    const fine: ReturnType<typeof factOf> = [input, '1', '2', '3', '5000000001', '5000000001'];
    expect(factIsSettled(fine, 5_000_000_001n + RACY_MARGIN_NS + 1n)).toBe(true);
    expect(factIsSettled(whole, 5_000_000_000n + RACY_MARGIN_NS + 1n)).toBe(false);
    expect(factIsSettled(whole, 5_000_000_000n + RACY_MARGIN_WHOLE_SECONDS_NS + 1n)).toBe(true);
    const spec: ConsoleSpec = { convention: 'glue', image: input, target: 'hw-x86_64', arch: 'x86_64', emulator: ['sleep'], timeoutMs: 1000, verbose: false };
    const self = join(dir, 'rumpkg.cjs');
    const run = { argv: ['run'], env, cwd: dir, checked: { paths: [input], tools: [] as Array<[string, string]> }, boot: { command: [SLEEP, '1'], early: false, paths: [], tools: ['sleep'], console: spec }, toTerminal: false, self: [self] };
    recordEarlyBoot({ ...run, startedAt: Date.now() });
    expect(() => statSync(file)).toThrow(); // the input was written just now: removed, not written
    recordEarlyBoot({ ...run, startedAt: Date.now() + Number(RACY_MARGIN_WHOLE_SECONDS_NS / 1_000_000n) + 1000 });
    const memo = JSON.parse(readFileSync(file, 'utf8')) as RunMemo;
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // the lookup of sleep (every PATH candidate up to where it is found), then the check's paths
    const lookup = programLookup('sleep', env.PATH) as string[];
    expect(lookup.at(-1)).toBe(SLEEP);
    expect(memo.facts.map((f) => f[0])).toEqual([...new Set([...lookup, input, self])]); // once each (PATH may name a directory twice); rumpkg's own files (absent here)
    expect(memo.spawn).toEqual([SLEEP, '1']);
    expect(memo.console).toBeUndefined(); // the run's console did not go to the terminal (--json)
    recordEarlyBoot({ ...run, toTerminal: true, startedAt: Date.now() + 10_000 });
    expect((JSON.parse(readFileSync(file, 'utf8')) as RunMemo).console).toEqual(spec);
    // a program the check found elsewhere than it is found now: no memo
    recordEarlyBoot({ ...run, checked: { paths: [input], tools: [['sleep', '/elsewhere/sleep']] }, startedAt: Date.now() + 10_000 });
    expect(() => statSync(file)).toThrow();
  });
});
