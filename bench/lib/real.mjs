// The real NetBSD rump kernel archives of ../shared/netbsd/real for benches, unpacked exactly as
// test/helpers/real.ts does it (`tar xJf` once into `<tmpdir>/rumpkg-real-<sha256[:16]>/`, under
// the same lock directory), so tests and benches share one unpacked copy.
//
//   const set = realSet('posix');
//   if (!set.available) { skip('rumpkg import vs nm (real posix archives)', set.skipReason); }
//   else { const top = await set.dir(); … }
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REAL_DIR } from './measure.mjs';

const run = promisify(execFile);

export const REAL_SETS = {
  posix: 'netbsd-7.99.34-posix-x86_64.tar.xz',
  hw: 'rumprun-b04d422-hw-x86_64.tar.xz',
};

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function unpackOnce(file) {
  const sha = createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16);
  const root = join(tmpdir(), `rumpkg-real-${sha}`);
  const top = join(root, file.split('/').pop().replace(/\.tar\.xz$/, ''));
  const lock = `${root}.lock`;
  for (let waited = 0; ; waited += 200) {
    if (existsSync(join(root, '.done'))) return top;
    try {
      await mkdir(lock);
    } catch {
      try {
        const pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
        if (Number.isInteger(pid) && pid > 0 && !alive(pid)) await rm(lock, { recursive: true, force: true });
      } catch {
        // the owner has not written its pid yet
      }
      if (waited > 300_000) throw new Error(`timed out waiting for ${lock}`);
      await sleep(200);
      continue;
    }
    try {
      await writeFile(join(lock, 'pid'), String(process.pid));
      if (existsSync(join(root, '.done'))) return top;
      const work = await mkdtemp(`${root}.tmp-`);
      await run('tar', ['xJf', file, '-C', work], { maxBuffer: 1 << 24 });
      await writeFile(join(work, '.done'), '');
      await rm(root, { recursive: true, force: true });
      await rename(work, root);
      return top;
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }
}

/** `{ name, file, available, skipReason, dir() }`; `dir()` unpacks on first call. */
export function realSet(name) {
  const file = join(REAL_DIR, REAL_SETS[name]);
  const available = existsSync(file);
  let unpacked;
  return {
    name,
    file,
    available,
    skipReason: `${file} is absent (the real NetBSD archives live in ../shared/netbsd/real next to the checkout)`,
    dir: () => {
      if (!available) throw new Error(`${file} is absent; check set.available first`);
      unpacked ??= unpackOnce(file);
      return unpacked;
    },
  };
}
