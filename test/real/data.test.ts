/**
 * The real data the real-archive tests stand on (../shared/netbsd/real, see its README.md):
 * unpacked once per run by test/helpers/real.ts, with the contents its README promises.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { realSet, title } from '../helpers/real.js';

const posix = realSet('posix');
const hw = realSet('hw');

describe.skipIf(!posix.available)(title(posix, 'NetBSD 7.99.34 posix-x86_64 archives'), () => {
  it('unpack to 82 archives (80 kernel components, librumpuser, librumpclient) and the rump headers', async () => {
    const dir = await posix.dir();
    const libs = readdirSync(join(dir, 'lib')).filter((f) => f.endsWith('.a')).sort();
    expect(libs).toHaveLength(82);
    expect(libs).toContain('librumpuser.a');
    expect(libs).toContain('librumpclient.a');
    expect(libs.filter((f) => f.startsWith('librump') && f !== 'librumpuser.a' && f !== 'librumpclient.a')).toHaveLength(80);
    expect(statSync(join(dir, 'include/rump/rump.h')).isFile()).toBe(true);
  });

  it('unpack once: a second call gives the same directory', async () => {
    expect(await posix.dir()).toBe(await posix.dir());
  });
});

describe.skipIf(!hw.available)(title(hw, 'rumprun b04d422 hw-x86_64 build'), () => {
  it('holds the freestanding components, the platform object, the userland and the headers', async () => {
    const dir = await hw.dir();
    const hwLibs = readdirSync(join(dir, 'lib/rumprun-hw'));
    for (const f of ['rumprun.o', 'librump.a', 'librumpnet_netinet.a', 'librumpdev_virtio_if_vioif.a', 'librumprun_base.a']) expect(hwLibs).toContain(f);
    for (const f of ['libc.a', 'libpthread.a', 'hw.ldscript']) expect(statSync(join(dir, 'lib', f)).isFile()).toBe(true);
    expect(statSync(join(dir, 'include/sys/socket.h')).isFile()).toBe(true);
  });
});
