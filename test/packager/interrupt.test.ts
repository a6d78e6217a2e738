/**
 * CA-07 / CA-01: killing `rumpkg build` (SIGKILL to the process, SIGINT to its process group) at
 * any moment leaves either the previous image or the new one — never a half-written file — and
 * the next build removes what the killed one left behind. Uses the compiled CLI (npm run build).
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildProject, componentDirsFromRoot } from '../../packager/index.js';
import { corpusRoot, runImage, sha256File, tempDir, VERSION, writeProject } from './helpers.js';

const BIN = resolve(import.meta.dirname, '../../dist/cli/bin.js');

let root: string;
beforeAll(async () => {
  root = await corpusRoot();
  const src = resolve(import.meta.dirname, '../../packager/build/build.ts');
  const built = resolve(import.meta.dirname, '../../dist/packager/build/build.js');
  if (!existsSync(built) || statSync(built).mtimeMs < statSync(src).mtimeMs) throw new Error('dist/ is stale: run npm run build first');
});

function runCli(args: string[], cwd: string, killAfterMs: number, signal: 'SIGKILL' | 'SIGINT'): Promise<{ pid: number; code: number | null; signal: string | null }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: 'ignore', detached: signal === 'SIGINT' });
    const pid = child.pid!;
    const t = setTimeout(() => {
      try {
        if (signal === 'SIGINT') process.kill(-pid, 'SIGINT');
        else child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }, killAfterMs);
    child.on('close', (code, sig) => {
      clearTimeout(t);
      res({ pid, code, signal: sig });
    });
  });
}

describe('interrupted builds', () => {
  it('never leave a half-written image, and leftovers are cleaned by the next build', async () => {
    const dir = tempDir();
    const { lockfile } = writeProject(dir, root);
    const store = tempDir('rumpkg-packager-store-');
    for (const name of Object.keys(lockfile.targets['posix-x86_64']!.components)) {
      const bare = name.replace(/^@[^/]+\//, '');
      cpSync(join(root, VERSION, bare), join(store, VERSION, bare), { recursive: true });
    }
    const [first] = await buildProject(dir, { resolveComponentDir: componentDirsFromRoot(store) });
    const image = first!.image;
    const oldSha = sha256File(image);
    writeFileSync(join(dir, 'app.c'), readFileSync(join(dir, 'app.c'), 'utf8').replace('hello from the app', 'hello from the new app'));
    const args = ['build', '--components-dir', store, '--force'];

    const seen = new Set<string>();
    const pids: number[] = [];
    const delays = [0, 40, 80, 120, 160, 200, 260, 320, 400, 500, 650, 800];
    for (const [i, delay] of delays.entries()) {
      const r = await runCli(args, dir, delay, i % 3 === 2 ? 'SIGINT' : 'SIGKILL');
      pids.push(r.pid);
      const sha = sha256File(image);
      const out = runImage(image);
      expect(out.status).toBe(0);
      expect(out.stdout).toMatch(/hello from the (new )?app\n$/);
      seen.add(sha === oldSha ? 'old' : 'new');
      if (sha !== oldSha) expect(out.stdout).toMatch(/hello from the new app/);
    }
    expect(seen.has('old')).toBe(true);

    await new Promise((r) => setTimeout(r, 300)); // let orphaned compilers of killed builds finish
    const done = await runCli(args, dir, 60_000, 'SIGKILL');
    expect(done.code).toBe(0);
    expect(runImage(image).stdout).toMatch(/hello from the new app/);
    // Build directories are made next to the image, never in the temporary directory.
    expect(readdirSync(dirname(image)).filter((n) => n.includes('rumpkg-tmp') || n.startsWith('.rumpkg-build-'))).toEqual([]);
    const left = readdirSync(tmpdir()).filter((n) => pids.some((p) => n.startsWith(`rumpkg-build-${p}-`)));
    expect(left).toEqual([]);
  });

  it('the next build removes the build directory and temporary image of a dead builder, not those of a live one', async () => {
    const dir = tempDir();
    writeProject(dir, root);
    const [first] = await buildProject(dir, { resolveComponentDir: componentDirsFromRoot(root) });
    const out = dirname(first!.image);
    const dead = spawnSync('true').pid; // exited: its pid names no running builder
    const live = process.ppid;
    const names = (pid: number): string[] => [`.rumpkg-build-${pid}-Ab12Cd`, `.${basename(first!.image)}.rumpkg-tmp-${pid}-0a1b2c3d`];
    for (const pid of [dead, live]) {
      const [buildDir, tmpImage] = names(pid);
      mkdirSync(join(out, buildDir!, 'obj'), { recursive: true });
      writeFileSync(join(out, buildDir!, 'obj', 'app0.o'), 'partial');
      writeFileSync(join(out, tmpImage!), 'half an image');
    }
    const [again] = await buildProject(dir, { resolveComponentDir: componentDirsFromRoot(root), force: true });
    expect(again!.upToDate).toBe(false);
    const left = readdirSync(out).filter((n) => n.startsWith('.')).sort();
    expect(left).toEqual(names(live).sort());
    expect(runImage(again!.image).status).toBe(0);
  });
});
