/**
 * `writeFileAtomic` (registry/home/home.ts, CA-01): the first write into a directory in a process
 * creates it and removes the temp files dead writers left there; later writes into it skip both,
 * and a directory removed meanwhile is created again.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../registry/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const fresh = (): string => {
  const d = join(tmpdir(), `rumpkg-wfa-${process.pid}-${dirs.length}-${Date.now()}`);
  dirs.push(d);
  return d;
};
/** The pid of a process that has exited. */
const deadPid = (): number => spawnSync(process.execPath, ['-e', '0']).pid as number;

describe('writeFileAtomic', () => {
  it("creates the directory (0700) on the first write and removes a dead writer's temp file there, not a live one's", async () => {
    const dir = fresh();
    mkdirSync(dir);
    const dead = join(dir, `.r.json.${deadPid()}.0123456789ab.tmp`);
    const live = join(dir, `.r.json.${process.ppid}.0123456789ab.tmp`);
    writeFileSync(dead, 'partial');
    writeFileSync(live, 'in progress');
    await writeFileAtomic(join(dir, 'r.json'), 'one\n');
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(readFileSync(join(dir, 'r.json'), 'utf8')).toBe('one\n');
    const nested = join(fresh(), 'a', 'b');
    await writeFileAtomic(join(nested, 'x'), 'x');
    expect(statSync(nested).mode & 0o777).toBe(0o700);
  });

  it('many writes into one directory at once: each file whole, no temp files left', async () => {
    const dir = fresh();
    await Promise.all(Array.from({ length: 30 }, (_, i) => writeFileAtomic(join(dir, `f${i}`), `${i}\n`.repeat(100))));
    expect(readdirSync(dir).sort()).toEqual(Array.from({ length: 30 }, (_, i) => `f${i}`).sort());
    for (let i = 0; i < 30; i++) expect(readFileSync(join(dir, `f${i}`), 'utf8')).toBe(`${i}\n`.repeat(100));
  });

  it('a directory removed after a write into it is created again by the next write', async () => {
    const dir = fresh();
    await writeFileAtomic(join(dir, 'a'), 'a');
    rmSync(dir, { recursive: true });
    await writeFileAtomic(join(dir, 'b'), 'b');
    expect(readdirSync(dir)).toEqual(['b']);
    expect(readFileSync(join(dir, 'b'), 'utf8')).toBe('b');
  });
});
