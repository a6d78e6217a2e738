/**
 * The early link of `rumpkg build --force` (packager/build/early-link.ts), through the shipped
 * launcher (dist/rumpkg.cjs) on a real store: the corpus components of examples/hello-net
 * published into an embedded file registry and installed. The launcher starts the project's
 * previous link before the CLI loads; the build keeps it only when its own link is exactly that
 * one. Checked: it is kept for an unchanged project and makes the bytes a build without it makes;
 * a changed source starts none; a memo whose link or directory differs from the plan (tampered)
 * is discarded and the build links itself; a build that fails before its link leaves neither the
 * early link's directory nor its process; options that can change the plan start none.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { installProject } from '../../packager/index.js';
import { KEPT_DIR, earlyObjectsDir, linkMemoFile, startEarlyLink, type LinkMemo } from '../../packager/build/early-link.js';
import { homePaths, resolveHome } from '../../registry/index.js';
import { runNode } from '../helpers/cli.js';
import { HELLO_C, publishHelloNet, sha256File, tempDirsRemovedAfterAll } from './helpers.js';

const T = 'posix-x86_64';
const BIN = resolve(import.meta.dirname, '../../dist/rumpkg.cjs');
const temp = tempDirsRemovedAfterAll();

let home: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  home = join(temp('rumpkg-early-home-'), 'home');
  env = { ...process.env, RUMPKG_HOME: home, NO_COLOR: '1' };
  await publishHelloNet(home);
}, 120_000);

async function project(): Promise<string> {
  const dir = temp('rumpkg-early-project-');
  writeFileSync(
    join(dir, 'rumpkg.json'),
    `${JSON.stringify({ schemaVersion: 1, name: 'early', targets: [T], components: { '@rump/net-config': '^10.0.0', '@rump/tcpip': '^10.0.0', '@rump/virtif': '^10.0.0' }, registries: {}, image: { sources: ['app.c'], net: [{ if: 'virt0', type: 'inet', method: 'static', addr: '10.0.0.2', mask: '24' }] } }, null, 2)}\n`,
  );
  writeFileSync(join(dir, 'app.c'), HELLO_C);
  await installProject(dir, { env });
  return dir;
}

const rumpkg = (args: string[], cwd: string, extra: NodeJS.ProcessEnv = {}) => runNode([BIN, ...args], { cwd, env: { ...env, ...extra } });
const linkLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('link the image for'));
const early = (stderr: string): boolean => linkLines(stderr).some((l) => l.startsWith(`link the image for ${T} (started early): `));
/** The build directory's contents but the image, its map, its stamp and the kept link directory (leftovers of a build). */
const leftovers = (dir: string): string[] => readdirSync(join(dir, 'build', T)).filter((n) => !/^early(\.map|\.stamp)?$/.test(n) && n !== KEPT_DIR);
const kept = (dir: string): string => join(dir, 'build', T, KEPT_DIR);
const outputs = (dir: string): string[] => ['early', 'early.map', 'early.stamp'].map((f) => sha256File(join(dir, 'build', T, f)));
const memoOf = (dir: string): string => linkMemoFile(homePaths(home).objects, dir);

describe('the early link of build --force', () => {
  it('is kept for an unchanged project and makes the bytes a build without it makes; a changed source starts none', async () => {
    const dir = await project();
    const first = await rumpkg(['--verbose', 'build'], dir);
    expect(first.code, first.stderr).toBe(0);
    expect(early(first.stderr)).toBe(false);
    const cold = outputs(dir);
    // the memo: beside the object cache, private to the user, naming the project's files
    const memo = JSON.parse(readFileSync(memoOf(dir), 'utf8')) as LinkMemo;
    expect(statSync(memoOf(dir)).mode & 0o777).toBe(0o600);
    expect(memo.inputs.map(([p]) => p).sort()).toEqual([join(dir, 'app.c'), join(dir, 'rumpkg.json'), join(dir, 'rumpkg.lock')].sort());
    expect(memo.args).toContain('image.linked');
    // the link's directory is kept beside the image for the next early link, its outputs moved out
    expect(readdirSync(kept(dir)).sort()).toEqual(memo.tree.filter((e) => !e[0].includes('/')).map((e) => e[0]).sort());

    const keptIno = statSync(kept(dir)).ino;
    const forced = await rumpkg(['--verbose', 'build', '--force'], dir);
    expect(forced.code, forced.stderr).toBe(0);
    // the early link ran in the kept directory (taken, not made again) and left it kept again
    expect(statSync(kept(dir)).ino).toBe(keptIno);
    expect(linkLines(forced.stderr)).toHaveLength(1);
    expect(early(forced.stderr)).toBe(true);
    expect(outputs(dir)).toEqual(cold);
    expect(leftovers(dir)).toEqual([]);
    expect(execFileSync(join(dir, 'build', T, 'early'), { encoding: 'utf8' })).toContain('hello from the app');
    // the kept directory damaged (a file's bytes, an extra file): not used, made again from the memo
    const damage: Array<() => void> = [
      () => writeFileSync(join(kept(dir), 'obj', 'rumpkg_main.o'), 'not an object'),
      () => writeFileSync(join(kept(dir), 'obj', 'extra.o'), 'x'),
      () => rmSync(kept(dir), { recursive: true }),
    ];
    for (const d of damage) {
      d();
      const r = await rumpkg(['--verbose', 'build', '--force'], dir);
      expect(r.code, r.stderr).toBe(0);
      expect(early(r.stderr)).toBe(true);
      expect(outputs(dir)).toEqual(cold);
      expect(leftovers(dir)).toEqual([]);
      expect(readdirSync(join(kept(dir), 'obj')).sort()).toEqual(memo.tree.filter((e) => e[0].startsWith('obj/')).map((e) => e[0].slice(4)).sort());
    }
    // --json and --quiet cannot change the plan: kept as well (the stamp says nothing else changed)
    const json = await rumpkg(['build', '--force', '--json'], dir);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)[0].sha256).toBe(`sha256-${cold[0]}`);

    // the application changes: the memo no longer matches its files, so no early link starts
    writeFileSync(join(dir, 'app.c'), HELLO_C.replace('hello from the app', 'hello, changed'));
    const changed = await rumpkg(['--verbose', 'build', '--force'], dir);
    expect(changed.code, changed.stderr).toBe(0);
    expect(linkLines(changed.stderr)).toHaveLength(1);
    expect(early(changed.stderr)).toBe(false);
    expect(execFileSync(join(dir, 'build', T, 'early'), { encoding: 'utf8' })).toContain('hello, changed');
    // ...and the memo now names the new source, so the next --force starts early again
    const again = await rumpkg(['--verbose', 'build', '--force'], dir);
    expect(early(again.stderr)).toBe(true);
    expect(execFileSync(join(dir, 'build', T, 'early'), { encoding: 'utf8' })).toContain('hello, changed');
    expect(leftovers(dir)).toEqual([]);
  }, 120_000);

  it('is discarded when its link or its directory differs from the plan (a tampered memo): the build links itself, same bytes', async () => {
    const dir = await project();
    expect((await rumpkg(['build'], dir)).code).toBe(0);
    const good = outputs(dir);
    const original = readFileSync(memoOf(dir));
    const tamper = (change: (m: LinkMemo) => void): void => {
      const m = JSON.parse(original.toString('utf8')) as LinkMemo;
      change(m);
      writeFileSync(memoOf(dir), JSON.stringify(m));
    };
    const cases: Array<[string, (m: LinkMemo) => void]> = [
      ['another argument', (m) => m.args.splice(m.args.indexOf('-o'), 0, '-Wl,--defsym=rumpkg_tampered=1')],
      ['another program', (m) => (m.program = '/bin/true')],
      ['an object with other bytes', (m) => {
        const e = m.tree.find((t) => t[0] === 'obj/rumpkg_main.o')!;
        const b = Buffer.from(e[2] as string, 'base64');
        b[b.length - 1] = b[b.length - 1]! ^ 1;
        e[2] = b.toString('base64');
      }],
      ['an extra file', (m) => m.tree.push(['extra.o', 'f', Buffer.from('x').toString('base64')])],
    ];
    for (const [what, change] of cases) {
      tamper(change);
      const r = await rumpkg(['--verbose', 'build', '--force'], dir);
      expect(r.code, `${what}: ${r.stderr}`).toBe(0);
      expect(early(r.stderr), what).toBe(false);
      expect(linkLines(r.stderr), what).toHaveLength(1);
      expect(outputs(dir), what).toEqual(good);
      expect(leftovers(dir), what).toEqual([]);
      // the build wrote the true memo back
      expect(readFileSync(memoOf(dir)).equals(original), what).toBe(true);
    }
    // a memo that is not one: no early link, the build as always
    writeFileSync(memoOf(dir), '{"v": 1, "tree": "no"');
    const r = await rumpkg(['--verbose', 'build', '--force'], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(early(r.stderr)).toBe(false);
    expect(outputs(dir)).toEqual(good);
  }, 120_000);

  it('failed although it was the plan\'s link: the verified path builds and links again, same bytes', async () => {
    const dir = await project();
    // A cc on PATH that fails once when told to (the mark file), else is the host's cc: the early
    // link is the first cc to run in a build --force whose compiles come from the object cache.
    const bin = temp('rumpkg-early-bin-');
    const mark = join(bin, 'fail-once');
    const cc = execFileSync('sh', ['-c', 'command -v cc'], { encoding: 'utf8' }).trim();
    writeFileSync(join(bin, 'cc'), `#!/bin/sh\nif [ -e '${mark}' ]; then rm -f '${mark}'; echo 'the early link fails' >&2; exit 1; fi\nexec '${cc}' "$@"\n`, { mode: 0o755 });
    const path = { PATH: `${bin}:${process.env.PATH}` };
    expect((await rumpkg(['build'], dir, path)).code).toBe(0);
    const good = outputs(dir);
    writeFileSync(mark, '');
    const r = await rumpkg(['--verbose', 'build', '--force'], dir, path);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(mark)).toBe(false); // the early link ran, and failed
    expect(r.stderr).not.toContain('the early link fails');
    expect(early(r.stderr)).toBe(false);
    expect(linkLines(r.stderr)).toHaveLength(1);
    expect(outputs(dir)).toEqual(good);
    expect(leftovers(dir)).toEqual([]);
    // and the next one starts early again
    const again = await rumpkg(['--verbose', 'build', '--force'], dir, path);
    expect(early(again.stderr)).toBe(true);
    expect(outputs(dir)).toEqual(good);
  }, 120_000);

  it('leaves neither its directory nor its process when the build fails before its link', async () => {
    const dir = await project();
    expect((await rumpkg(['build'], dir)).code).toBe(0);
    const memo = JSON.parse(readFileSync(memoOf(dir), 'utf8')) as LinkMemo;
    // A link that would run for a minute (the memo is trusted as the object cache is), then no
    // compiler on PATH: the build fails at once, before its link step.
    writeFileSync(memoOf(dir), JSON.stringify({ ...memo, program: '/bin/sh', args: ['-c', `echo $$ > ${join(dir, 'early.pid')}; exec sleep 60`] }));
    const r = await rumpkg(['build', '--force'], dir, { PATH: '/nonexistent' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/E_TOOLCHAIN/);
    expect(leftovers(dir)).toEqual([]);
    const pid = Number(readFileSync(join(dir, 'early.pid'), 'utf8'));
    expect(() => process.kill(pid, 0)).toThrow();
  }, 60_000);

  it('finds the memo where the build writes it: the home\'s object cache, with and without RUMPKG_HOME', () => {
    for (const e of [env, { ...env, RUMPKG_HOME: '' }, { HOME: env.HOME }]) expect(earlyObjectsDir(e)).toBe(homePaths(resolveHome(e)).objects);
  });

  it('starts only for build --force with options that cannot change the plan', async () => {
    const dir = await project();
    expect((await rumpkg(['build'], dir)).code).toBe(0);
    const started: string[][] = [];
    for (const argv of [['build', '--force'], ['--json', 'build', '--force', '-q'], ['build'], ['build', '--force', '--target', T], ['build', '--force', '-o', 'x'], ['--cwd', dir, 'build', '--force'], ['build', '--force', '--dry-run'], ['build', '--force', '--components-dir', dir], ['run', '--force']]) {
      const e = startEarlyLink(argv, env, dir);
      if (e !== undefined) started.push(argv);
      e?.discard();
    }
    expect(started).toEqual([['build', '--force'], ['--json', 'build', '--force', '-q']]);
    expect(leftovers(dir)).toEqual([]);
    // another project directory has no memo
    expect(startEarlyLink(['build', '--force'], env, join(dir, 'build'))).toBeUndefined();
    rmSync(memoOf(dir));
    expect(startEarlyLink(['build', '--force'], env, dir)).toBeUndefined();
  }, 60_000);
});
