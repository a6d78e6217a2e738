/**
 * The object cache (packager/build/object-cache.ts) with the real compiler: which steps it keeps,
 * that a hit gives back the bytes the compiler wrote, that the key follows the arguments, the
 * source and the component header directory, that a header the compile read (system or
 * application) is checked on every lookup, and that a damaged entry (flipped byte, truncated,
 * another key's entry, garbage) is a miss, after which a new entry replaces it.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ObjectCache, cacheableOutputs, findToolchain, parseDepFile, stepKey, type PlanStep } from '../../packager/index.js';
import { tempDir } from './helpers.js';

const toolchain = findToolchain('posix-x86_64');
const compile = (extra: string[] = []): PlanStep => ({
  tool: 'cc',
  command: ['cc'],
  args: ['-c', '-O2', '-fno-ident', '-isystem', 'inc/comp', '-iquote', 'src/h', ...extra, '-MD', '-MF', 'obj/app0.d', '-o', 'obj/app0.o', 'src/0/app.c'],
  cwd: '.',
  description: 'compile app.c',
});

/** A staged build directory: a source, an application header, a component header directory. */
function buildDir(): { dir: string; comp: string } {
  const dir = tempDir('rumpkg-objcache-build-');
  const comp = tempDir('rumpkg-objcache-comp-');
  mkdirSync(join(comp, 'rump'), { recursive: true });
  writeFileSync(join(comp, 'rump', 'k.h'), '#define K 7\n');
  for (const d of ['src/0', 'src/h', 'inc', 'obj']) mkdirSync(join(dir, d), { recursive: true });
  symlinkSync(comp, join(dir, 'inc/comp'), 'dir');
  writeFileSync(join(dir, 'src/h/app.h'), '#define GREETING "hello"\n');
  writeFileSync(join(dir, 'src/0/app.c'), '#include <stdio.h>\n#include <rump/k.h>\n#include "app.h"\nint main(void) { printf("%s %d\\n", GREETING, K); return 0; }\n');
  return { dir, comp };
}

const run = (step: PlanStep, dir: string): void => {
  execFileSync(step.command[0]!, step.args, { cwd: dir, env: { ...process.env, LC_ALL: 'C' } });
};

/** Compiles in `dir`, stores the entry, and returns the key and the bytes the compiler wrote. */
async function compileAndStore(cache: ObjectCache, dir: string, step = compile()): Promise<{ key: string; obj: Buffer; dep: Buffer }> {
  const key = stepKey(step, dir, toolchain);
  run(step, dir);
  await cache.store(key, step, dir);
  return { key, obj: readFileSync(join(dir, 'obj/app0.o')), dep: readFileSync(join(dir, 'obj/app0.d')) };
}

const entryFile = (root: string, key: string): string => join(root, key.slice(0, 2), key);

describe('object cache', () => {
  it('keeps compiles with a dependency file and the --redefine-sym objcopy, nothing else', () => {
    expect(cacheableOutputs(compile())).toEqual(['obj/app0.o', 'obj/app0.d']);
    const noDeps = compile();
    noDeps.args = noDeps.args.filter((a, i, all) => a !== '-MD' && a !== '-MF' && all[i - 1] !== '-MF');
    expect(cacheableOutputs(noDeps)).toBeUndefined();
    expect(cacheableOutputs({ tool: 'objcopy', command: ['objcopy'], args: ['--redefine-sym', 'main=rumpkg_main_0', 'obj/a.o', 'obj/a.entry.o'], cwd: '.', description: '' })).toEqual(['obj/a.entry.o']);
    expect(cacheableOutputs({ tool: 'objcopy', command: ['objcopy'], args: ['--add-section', '.rumpkg.manifest=m.json', '--set-section-flags', '.rumpkg.manifest=noload,readonly', 'image.linked', 'image'], cwd: '.', description: '' })).toBeUndefined();
    expect(cacheableOutputs({ tool: 'cc', command: ['cc'], args: ['-o', 'image.linked', 'obj/a.o', '-MF', 'x.d'], cwd: '.', description: '' })).toBeUndefined();
  });

  it('parses make dependency files (continuations, escaped blanks)', () => {
    expect(parseDepFile('obj/a.o: src/0/a.c /usr/include/stdio.h \\\n inc/comp/rump/k.h src/h/my\\ file.h\n')).toEqual(['src/0/a.c', '/usr/include/stdio.h', 'inc/comp/rump/k.h', 'src/h/my file.h']);
  });

  it('gives back the bytes the compiler wrote, for the same inputs only', async () => {
    const cache = new ObjectCache(tempDir('rumpkg-objcache-'));
    const { dir } = buildDir();
    const { key, obj, dep } = await compileAndStore(cache, dir);
    // the dependency file names the system, component and application headers
    expect(parseDepFile(dep.toString('utf8'))).toEqual(expect.arrayContaining(['src/0/app.c', 'src/h/app.h', 'inc/comp/rump/k.h', expect.stringMatching(/^\/.*stdio\.h$/)]));

    // another build directory: the same key once it stages the same component directory
    const { dir: other } = buildDir();
    const key2 = stepKey(compile(), other, toolchain);
    expect(key2).not.toBe(key); // the component header directory is another path (its identity is the link target)
    rmSync(join(other, 'inc/comp'));
    symlinkSync(readlinkSync(join(dir, 'inc/comp')), join(other, 'inc/comp'), 'dir');
    expect(stepKey(compile(), other, toolchain)).toBe(key);
    const hit = cache.lookup(key, dir);
    expect(hit).toBeDefined();
    expect(hit!.get('obj/app0.o')!.equals(obj)).toBe(true);
    expect(hit!.get('obj/app0.d')!.equals(dep)).toBe(true);

    // what changes the key: the arguments, the source bytes
    expect(stepKey(compile(['-DEXTRA=1']), dir, toolchain)).not.toBe(key);
    expect(stepKey(compile(), dir, toolchain, { ...process.env, CPATH: '/elsewhere' })).not.toBe(key);
    writeFileSync(join(dir, 'src/0/app.c'), `${readFileSync(join(dir, 'src/0/app.c'), 'utf8')}/* changed */\n`);
    expect(stepKey(compile(), dir, toolchain)).not.toBe(key);
  });

  it('misses when a header the compile read changed: the application\'s or a component\'s', async () => {
    const cache = new ObjectCache(tempDir('rumpkg-objcache-'));
    const { dir, comp } = buildDir();
    const { key } = await compileAndStore(cache, dir);
    expect(cache.lookup(key, dir)).toBeDefined();
    writeFileSync(join(dir, 'src/h/app.h'), '#define GREETING "bonjour"\n');
    expect(stepKey(compile(), dir, toolchain)).toBe(key); // same arguments and source...
    expect(cache.lookup(key, dir)).toBeUndefined(); // ...but the recorded header changed
    writeFileSync(join(dir, 'src/h/app.h'), '#define GREETING "hello"\n');
    expect(cache.lookup(key, dir)).toBeDefined();
    writeFileSync(join(comp, 'rump', 'k.h'), '#define K 8\n');
    expect(cache.lookup(key, dir)).toBeUndefined();
    rmSync(join(comp, 'rump', 'k.h'));
    expect(cache.lookup(key, dir)).toBeUndefined();
  });

  it('treats a damaged entry as a miss, and a new store replaces it', async () => {
    const root = tempDir('rumpkg-objcache-');
    const cache = new ObjectCache(root);
    const { dir } = buildDir();
    const { key, obj } = await compileAndStore(cache, dir);
    const file = entryFile(root, key);
    const good = readFileSync(file);

    const flipped = Buffer.from(good);
    flipped[flipped.length - 10] = flipped[flipped.length - 10]! ^ 0xff; // a byte of the object
    writeFileSync(file, flipped);
    expect(cache.lookup(key, dir)).toBeUndefined();

    writeFileSync(file, good.subarray(0, good.length - 1));
    expect(cache.lookup(key, dir)).toBeUndefined();
    writeFileSync(file, Buffer.concat([good, Buffer.from('x')]));
    expect(cache.lookup(key, dir)).toBeUndefined();
    writeFileSync(file, 'not an entry at all');
    expect(cache.lookup(key, dir)).toBeUndefined();
    writeFileSync(file, '');
    expect(cache.lookup(key, dir)).toBeUndefined();

    // another key's (valid) entry under this key's name
    const otherKey = `${key.slice(0, 2)}${'0'.repeat(62)}`;
    mkdirSync(join(root, otherKey.slice(0, 2)), { recursive: true });
    writeFileSync(file, good);
    copyFileSync(file, entryFile(root, otherKey));
    expect(cache.lookup(otherKey, dir)).toBeUndefined();

    // the step runs again and its entry replaces the damaged one
    writeFileSync(file, flipped);
    run(compile(), dir);
    await cache.store(key, compile(), dir);
    expect(readFileSync(file).equals(good)).toBe(true);
    expect(cache.lookup(key, dir)!.get('obj/app0.o')!.equals(obj)).toBe(true);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });

  it('keeps no entry when the compile read a header that is gone by the time it is stored', async () => {
    const root = tempDir('rumpkg-objcache-');
    const cache = new ObjectCache(root);
    const { dir } = buildDir();
    const key = stepKey(compile(), dir, toolchain);
    run(compile(), dir);
    rmSync(join(dir, 'src/h/app.h'));
    await cache.store(key, compile(), dir);
    expect(cache.lookup(key, dir)).toBeUndefined();
    expect(readdirSync(root).filter((d) => d !== 'tmp')).toEqual([]);
  });
});
