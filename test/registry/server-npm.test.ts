/**
 * The stock npm client against rumpkg's registry server on 127.0.0.1: `npm view` and `npm pack`
 * give the integrity rumpkg computed; `npm publish`, `npm deprecate` (rumpkg's yank protocol) and
 * `npm dist-tag` work with a rumpkg token; npm cannot republish a version.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { integrityOf } from '../../components/index.js';
import { createRegistryServer, isYanked, type Packument, type RegistryServer } from '../../registry/index.js';
import { hashTree, npmPublishBody, packFixture, raw, tempDir } from './server-fixtures.js';

interface NpmResult {
  code: number;
  stdout: string;
  stderr: string;
}

describe('stock npm client against the rumpkg registry server', () => {
  let server: RegistryServer;
  let token: string;
  let home: string;
  let pack: Awaited<ReturnType<typeof packFixture>>;

  const npm = (args: string[], cwd = home): Promise<NpmResult> =>
    new Promise((resolve) => {
      execFile(
        'npm',
        [...args, '--registry', `${server.url}/`, '--userconfig', join(home, 'npmrc'), '--cache', join(home, 'cache'), '--no-update-notifier', '--no-audit', '--no-fund'],
        { cwd, env: { PATH: process.env.PATH ?? '', HOME: home, npm_config_loglevel: 'warn' }, timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  beforeAll(async () => {
    server = await createRegistryServer(tempDir('npm-registry'), { host: '127.0.0.1', port: 0 });
    token = await server.tokens.add('alice');
    home = tempDir('npm-home');
    writeFileSync(join(home, 'npmrc'), `//127.0.0.1:${server.port}/:_authToken=${token}\n`, { mode: 0o600 });
    pack = await packFixture({ version: '10.0.0' });
    const r = await raw(server.url, 'PUT', '/@rump%2ftcpip', { token, body: npmPublishBody(pack, { registryUrl: server.url }) });
    expect(r.status).toBe(201);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('npm view shows the integrity rumpkg computed', async () => {
    const r = await npm(['view', '@rump/tcpip', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const v = JSON.parse(r.stdout) as { name: string; version: string; dist: { integrity: string; tarball: string }; rump: unknown };
    expect(v.name).toBe('@rump/tcpip');
    expect(v.version).toBe('10.0.0');
    expect(v.dist.integrity).toBe(pack.integrity);
    expect(v.dist.tarball).toBe(`${server.url}/@rump/tcpip/-/tcpip-10.0.0.tgz`);
    expect(v.rump).toEqual(pack.manifest.rump);
  });

  it('npm pack downloads byte-identical tarballs with matching integrity', async () => {
    const cwd = tempDir('npm-pack');
    const r = await npm(['pack', '@rump/tcpip@10.0.0', '--json'], cwd);
    expect(r.code, r.stderr).toBe(0);
    const [info] = JSON.parse(r.stdout) as Array<{ integrity: string; filename: string }>;
    expect(info?.integrity).toBe(pack.integrity);
    const bytes = readFileSync(join(cwd, info?.filename ?? 'missing'));
    expect(integrityOf(bytes)).toBe(pack.integrity);
    expect(bytes.equals(pack.data)).toBe(true);
  });

  it('npm publish, deprecate (yank) and dist-tag work with a rumpkg token; republish is refused', async () => {
    const next = await packFixture({ version: '10.1.0' });
    const file = join(tempDir('npm-publish'), 'tcpip-10.1.0.tgz');
    writeFileSync(file, next.data);
    const pub = await npm(['publish', file, '--access', 'public']);
    expect(pub.code, pub.stderr).toBe(0);
    const p = (await raw(server.url, 'GET', '/@rump%2ftcpip')).json() as Packument;
    expect(p.versions['10.1.0']?.dist.integrity).toBe(next.integrity);
    expect(p['dist-tags'].latest).toBe('10.1.0');

    const before = hashTree(server.storage.dir);
    const again = await npm(['publish', file, '--access', 'public']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/409|already published|cannot publish over/);
    expect(hashTree(server.storage.dir)).toBe(before);

    const dep = await npm(['deprecate', '@rump/tcpip@10.0.0', '[yanked] broken checksum']);
    expect(dep.code, dep.stderr).toBe(0);
    const y = (await raw(server.url, 'GET', '/@rump%2ftcpip')).json() as Packument;
    expect(isYanked(y.versions['10.0.0'])).toBe(true);
    expect(isYanked(y.versions['10.1.0'])).toBe(false);

    const tag = await npm(['dist-tag', 'add', '@rump/tcpip@10.0.0', 'lts']);
    expect(tag.code, tag.stderr).toBe(0);
    expect(((await raw(server.url, 'GET', '/-/package/@rump%2ftcpip/dist-tags')).json() as Record<string, string>).lts).toBe('10.0.0');
    const rm = await npm(['dist-tag', 'rm', '@rump/tcpip', 'lts']);
    expect(rm.code, rm.stderr).toBe(0);

    const who = await npm(['whoami']);
    expect(who.stdout.trim()).toBe('alice');
  });
});
