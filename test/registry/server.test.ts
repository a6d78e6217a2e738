/**
 * The registry server (registry/server.ts) over real HTTP on 127.0.0.1: reads (raw and
 * percent-encoded scoped names, case variants), publish as npm sends it, immutability and the
 * 10-publisher race (SV-02), the authorisation matrix (SV-01), manifest confusion and bad
 * tarballs (SV-05, IN-04), size limits and malformed JSON (SV-04), path escapes (SV-06), tokens
 * never logged — each failed write leaves the storage tree byte-identical.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { integrityOf } from '../../components/index.js';
import { createFileStorage, createRegistryServer, type Packument, type RegistryServer, type ServerEvent } from '../../registry/index.js';
import { buildTar, componentEntries, gz, manifestJson } from '../helpers/tar.js';
import { hashTree, npmPublishBody, packFixture, raw, tempDir } from './server-fixtures.js';

const servers: RegistryServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function start(options: Parameters<typeof createRegistryServer>[1] = {}) {
  const dir = tempDir('server');
  const events: ServerEvent[] = [];
  const server = await createRegistryServer(dir, { host: '127.0.0.1', port: 0, log: (e) => events.push(e), ...options });
  servers.push(server);
  return { dir, server, url: server.url, events };
}

describe('registry server: reads and publish', () => {
  let ctx: Awaited<ReturnType<typeof start>>;
  let alice: string;
  let pack: Awaited<ReturnType<typeof packFixture>>;

  beforeAll(async () => {
    ctx = await start();
    alice = await ctx.server.tokens.add('alice');
    pack = await packFixture({ version: '10.0.0' });
  });

  it('answers ping, refuses an anonymous whoami, names the user of a token', async () => {
    expect((await raw(ctx.url, 'GET', '/-/ping')).status).toBe(200);
    expect((await raw(ctx.url, 'GET', '/-/whoami')).status).toBe(401);
    const w = await raw(ctx.url, 'GET', '/-/whoami', { token: alice });
    expect(w.status).toBe(200);
    expect(w.json()).toEqual({ username: 'alice' });
  });

  it('publishes what npm sends and serves packument and tarball under both name forms', async () => {
    const r = await raw(ctx.url, 'PUT', '/@rump%2ftcpip', { token: alice, body: npmPublishBody(pack, { registryUrl: ctx.url }) });
    expect(r.status, r.body.toString()).toBe(201);
    for (const path of ['/@rump%2ftcpip', '/@rump/tcpip', '/@rump%2Ftcpip']) {
      const g = await raw(ctx.url, 'GET', path);
      expect(g.status, path).toBe(200);
      const p = g.json() as Packument;
      expect(p.name).toBe('@rump/tcpip');
      expect(p.maintainers).toEqual([{ name: 'alice' }]);
      const v = p.versions['10.0.0'];
      expect(v?.dist.integrity).toBe(pack.integrity);
      expect(v?.dist.tarball).toBe(`${ctx.url}/@rump/tcpip/-/tcpip-10.0.0.tgz`);
      expect(v?._id).toBeUndefined();
    }
    for (const path of ['/@rump/tcpip/-/tcpip-10.0.0.tgz', '/@rump%2ftcpip/-/tcpip-10.0.0.tgz']) {
      const t = await raw(ctx.url, 'GET', path);
      expect(t.status).toBe(200);
      expect(integrityOf(t.body)).toBe(pack.integrity);
    }
    const one = await raw(ctx.url, 'GET', '/@rump%2ftcpip/latest');
    expect((one.json() as { version: string }).version).toBe('10.0.0');
    expect((await raw(ctx.url, 'GET', '/@rump/tcpip/-/tcpip-9.0.0.tgz')).status).toBe(404);
    expect((await raw(ctx.url, 'GET', '/@rump%2fnothing')).status).toBe(404);
  });

  it('answers case variants with 404, never with another package', async () => {
    for (const path of ['/@rump%2fTCPIP', '/@Rump/tcpip', '/@RUMP%2FTCPIP', '/@rump/Tcpip/-/tcpip-10.0.0.tgz']) {
      const r = await raw(ctx.url, 'GET', path);
      expect(r.status, path).toBe(404);
      expect(r.body.toString()).not.toContain('"versions"');
    }
    const before = hashTree(ctx.dir);
    const body = npmPublishBody(await packFixture({ version: '10.0.1' }), { registryUrl: ctx.url });
    expect((await raw(ctx.url, 'PUT', '/@rump%2fTCPIP', { token: alice, body })).status).toBe(404);
    expect(hashTree(ctx.dir)).toBe(before);
  });

  it('searches with the npm search JSON shape', async () => {
    const r = await raw(ctx.url, 'GET', '/-/v1/search?text=netinet&size=5');
    expect(r.status).toBe(200);
    const s = r.json() as { objects: Array<{ package: { name: string; version: string } }>; total: number };
    expect(s.total).toBe(1);
    expect(s.objects[0]?.package).toMatchObject({ name: '@rump/tcpip', version: '10.0.0' });
    expect(((await raw(ctx.url, 'GET', '/-/v1/search?text=zzz')).json() as { total: number }).total).toBe(0);
    expect((await raw(ctx.url, 'GET', '/-/v1/search?text=a&size=-1')).status).toBe(400);
  });

  it('HTTP caching: ETag + no-cache on packuments and version documents, immutable tarballs, 304 without the body', async () => {
    for (const path of ['/@rump%2ftcpip', '/@rump%2ftcpip/10.0.0']) {
      const first = await raw(ctx.url, 'GET', path);
      expect(first.status).toBe(200);
      expect(first.headers['cache-control']).toBe('no-cache');
      const etag = first.headers.etag as string;
      expect(etag).toMatch(/^"[A-Za-z0-9_-]{32}"$/);
      const again = await raw(ctx.url, 'GET', path, { headers: { 'if-none-match': etag } });
      expect([again.status, again.body.length, again.headers.etag]).toEqual([304, 0, etag]);
      expect((await raw(ctx.url, 'GET', path, { headers: { 'if-none-match': `W/"other", W/${etag}` } })).status).toBe(304);
      expect((await raw(ctx.url, 'GET', path, { headers: { 'if-none-match': '"other"' } })).status).toBe(200);
    }
    const t = await raw(ctx.url, 'GET', '/@rump/tcpip/-/tcpip-10.0.0.tgz');
    expect(t.headers.etag).toBe(`"${pack.integrity}"`);
    expect(t.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const t304 = await raw(ctx.url, 'GET', '/@rump/tcpip/-/tcpip-10.0.0.tgz', { headers: { 'if-none-match': `"${pack.integrity}"` } });
    expect([t304.status, t304.body.length]).toEqual([304, 0]);
    // A publish changes the packument, so its ETag: the old one no longer gets 304.
    const before = (await raw(ctx.url, 'GET', '/@rump%2ftcpip')).headers.etag as string;
    const next = await packFixture({ version: '10.0.7' });
    expect((await raw(ctx.url, 'PUT', '/@rump%2ftcpip', { token: alice, body: npmPublishBody(next, { registryUrl: ctx.url }) })).status).toBe(201);
    const after = await raw(ctx.url, 'GET', '/@rump%2ftcpip', { headers: { 'if-none-match': before } });
    expect(after.status).toBe(200);
    expect(Object.keys((after.json() as { versions: object }).versions)).toContain('10.0.7');
  });

  it('a packument changed by another writer of the directory is served at once (rendered copies are keyed by the file)', async () => {
    const first = await raw(ctx.url, 'GET', '/@rump%2ftcpip');
    expect((await raw(ctx.url, 'GET', '/@rump%2ftcpip', { headers: { 'if-none-match': first.headers.etag as string } })).status).toBe(304);
    // Another process (here: a second storage instance) publishes into the same directory.
    await createFileStorage(ctx.dir).publish((await packFixture({ version: '10.0.9' })).data);
    const after = await raw(ctx.url, 'GET', '/@rump%2ftcpip', { headers: { 'if-none-match': first.headers.etag as string } });
    expect(after.status).toBe(200);
    expect(after.headers.etag).not.toBe(first.headers.etag);
    expect(Object.keys((after.json() as { versions: object }).versions)).toContain('10.0.9');
  });

  it('a publish through the server is found by the next search at once (the search cache is dropped)', async () => {
    const find = async (): Promise<number> => ((await raw(ctx.url, 'GET', '/-/v1/search?text=cachedsearch')).json() as { total: number }).total;
    expect(await find()).toBe(0);
    const p = await packFixture({ name: '@rump/cachedsearch', version: '1.0.0' });
    expect((await raw(ctx.url, 'PUT', '/@rump%2fcachedsearch', { token: alice, body: npmPublishBody(p, { registryUrl: ctx.url }) })).status).toBe(201);
    expect(await find()).toBe(1);
  });

  it('searches keywords with colons (rump-provides:<cap>) and keywords:a,b; other qualifiers alone match nothing', async () => {
    const names = async (text: string): Promise<string[]> =>
      ((await raw(ctx.url, 'GET', `/-/v1/search?text=${encodeURIComponent(text)}&size=250`)).json() as { objects: Array<{ package: { name: string } }> }).objects.map((o) => o.package.name).sort();
    const prov = await packFixture({ name: '@rump/search-prov', version: '1.0.0', keywords: ['rump-component', 'rump-provides:bus:search'] });
    const plain = await packFixture({ name: '@rump/search-plain', version: '1.0.0', keywords: ['rump-component'] });
    for (const p of [prov, plain]) expect((await raw(ctx.url, 'PUT', `/${encodeURIComponent(p.manifest.name)}`, { token: alice, body: npmPublishBody(p, { registryUrl: ctx.url }) })).status).toBe(201);
    expect(await names('rump-provides:bus:search')).toEqual(['@rump/search-prov']);
    expect(await names('keywords:rump-provides:bus:search')).toEqual(['@rump/search-prov']);
    expect(await names('rump-provides:bus:nothing')).toEqual([]);
    expect(await names('author:someone')).toEqual([]);
    expect(await names('search-plain maintainer:x')).toEqual(['@rump/search-plain']);
  });

  it('never lets a published version be replaced: identical bytes, after yank, another token (SV-02)', async () => {
    const bob = await ctx.server.tokens.add('bob');
    const same = npmPublishBody(pack, { registryUrl: ctx.url });
    const other = npmPublishBody(await packFixture({ version: '10.0.0', salt: 'other bytes' }), { registryUrl: ctx.url });
    const before = hashTree(ctx.dir);
    expect((await raw(ctx.url, 'PUT', '/@rump%2ftcpip', { token: alice, body: same })).status).toBe(409);
    expect((await raw(ctx.url, 'PUT', '/@rump%2ftcpip', { token: alice, body: other })).status).toBe(409);
    expect((await raw(ctx.url, 'PUT', '/@rump%2ftcpip', { token: bob, body: same })).status).toBe(403);
    expect((await raw(ctx.url, 'DELETE', '/@rump%2ftcpip/-rev/1', { token: alice })).status).toBe(405);
    expect(hashTree(ctx.dir)).toBe(before);
    // yank (npm deprecate protocol), then try again
    const p = (await raw(ctx.url, 'GET', '/@rump%2ftcpip')).json() as Packument;
    (p.versions['10.0.0'] as { deprecated?: string }).deprecated = '[yanked] broken';
    expect((await raw(ctx.url, 'PUT', '/@rump%2ftcpip', { token: alice, body: p })).status).toBe(200);
    const afterYank = hashTree(ctx.dir);
    expect((await raw(ctx.url, 'PUT', '/@rump%2ftcpip', { token: alice, body: same })).status).toBe(409);
    expect((await raw(ctx.url, 'PUT', '/@rump%2ftcpip', { token: bob, body: other })).status).toBe(403);
    expect(hashTree(ctx.dir)).toBe(afterYank);
    const t = await raw(ctx.url, 'GET', '/@rump/tcpip/-/tcpip-10.0.0.tgz');
    expect(integrityOf(t.body)).toBe(pack.integrity);
    const y = (await raw(ctx.url, 'GET', '/@rump%2ftcpip')).json() as Packument;
    expect(y.versions['10.0.0']?.deprecated).toBe('[yanked] broken');
    // undo
    delete (y.versions['10.0.0'] as { deprecated?: string }).deprecated;
    expect((await raw(ctx.url, 'PUT', '/@rump%2ftcpip', { token: alice, body: y })).status).toBe(200);
    expect(((await raw(ctx.url, 'GET', '/@rump%2ftcpip')).json() as Packument).versions['10.0.0']?.deprecated).toBeUndefined();
  });

  it('refuses deprecate requests that change anything but "deprecated"', async () => {
    const before = hashTree(ctx.dir);
    const get = async (): Promise<Packument> => (await raw(ctx.url, 'GET', '/@rump%2ftcpip')).json() as Packument;
    const p1 = await get();
    (p1.versions['10.0.0'] as PackumentVersionLike).dependencies = { '@rump/evil': '*' };
    expect((await raw(ctx.url, 'PUT', '/@rump%2ftcpip', { token: alice, body: p1 })).status).toBe(400);
    const p2 = await get();
    p2.versions = {};
    expect((await raw(ctx.url, 'PUT', '/@rump%2ftcpip', { token: alice, body: p2 })).status).toBe(409);
    const p3 = await get();
    p3['dist-tags'] = { latest: '10.0.0', evil: '10.0.0' };
    expect((await raw(ctx.url, 'PUT', '/@rump%2ftcpip', { token: alice, body: p3 })).status).toBe(400);
    const p4 = await get();
    (p4.versions['10.0.0'] as PackumentVersionLike).dist = { integrity: integrityOf(Buffer.from('x')) };
    expect((await raw(ctx.url, 'PUT', '/@rump%2ftcpip', { token: alice, body: p4 })).status).toBe(400);
    expect(hashTree(ctx.dir)).toBe(before);
  });

  it('10 concurrent publishes of one version: exactly one 201', async () => {
    const bodies = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => npmPublishBody(await packFixture({ version: '11.0.0', salt: `racer ${i}` }), { registryUrl: ctx.url })),
    );
    const statuses = await Promise.all(bodies.map((b) => raw(ctx.url, 'PUT', '/@rump%2ftcpip', { token: alice, body: b }).then((r) => r.status)));
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(9);
    const winner = bodies[statuses.indexOf(201)] as { versions: Record<string, { dist: { integrity: string } }> };
    const t = await raw(ctx.url, 'GET', '/@rump/tcpip/-/tcpip-11.0.0.tgz');
    expect(integrityOf(t.body)).toBe(winner.versions['11.0.0']?.dist.integrity);
  });

  it('never logs a token', () => {
    expect(ctx.events.length).toBeGreaterThan(10);
    expect(JSON.stringify(ctx.events)).not.toContain(alice);
    expect(JSON.stringify(ctx.events)).not.toContain('rumpkg_');
  });
});

type PackumentVersionLike = Record<string, unknown>;

describe('registry server: authorisation matrix (SV-01)', () => {
  it('anonymous / other user / revoked / owner × publish, yank, dist-tag add and remove', async () => {
    const { dir, server, url, events } = await start();
    const owner = await server.tokens.add('alice');
    const other = await server.tokens.add('bob');
    const revoked = await server.tokens.add('carol');
    await server.tokens.revoke('carol');
    const first = await packFixture({ version: '1.0.0' });
    expect((await raw(url, 'PUT', '/@rump%2ftcpip', { token: owner, body: npmPublishBody(first, { registryUrl: url }) })).status).toBe(201);

    const forms = ['@rump%2ftcpip', '@rump/tcpip', '@rump%2Ftcpip'];
    const yankBody = async (): Promise<Packument> => {
      const p = (await raw(url, 'GET', '/@rump%2ftcpip')).json() as Packument;
      (p.versions['1.0.0'] as PackumentVersionLike).deprecated = '[yanked] test';
      return p;
    };
    const newVersion = npmPublishBody(await packFixture({ version: '1.9.0' }), { registryUrl: url });
    const actions: Array<[string, (token: string | undefined, form: string) => Promise<number>]> = [
      ['publish', async (t, f) => (await raw(url, 'PUT', `/${f}`, { ...(t ? { token: t } : {}), body: newVersion })).status],
      ['yank', async (t, f) => (await raw(url, 'PUT', `/${f}`, { ...(t ? { token: t } : {}), body: await yankBody() })).status],
      ['dist-tag add', async (t, f) => (await raw(url, 'PUT', `/-/package/${f}/dist-tags/beta`, { ...(t ? { token: t } : {}), body: '1.0.0' })).status],
      ['dist-tag rm', async (t, f) => (await raw(url, 'DELETE', `/-/package/${f}/dist-tags/beta`, t ? { token: t } : {})).status],
    ];
    const roles: Array<[string, string | undefined, number]> = [
      ['anonymous', undefined, 401],
      ['revoked', revoked, 401],
      ['garbage token', 'rumpkg_not-a-token', 401],
      ['other user', other, 403],
    ];
    const before = hashTree(dir);
    for (const [role, token, expected] of roles) {
      for (const [action, run] of actions) {
        for (const form of forms) expect(await run(token, form), `${role} ${action} ${form}`).toBe(expected);
      }
    }
    expect(hashTree(dir)).toBe(before);
    // everyone may read
    for (const [, token] of roles) expect((await raw(url, 'GET', '/@rump%2ftcpip', token ? { token } : {})).status).toBe(200);

    // the owner may do all of it, under every name form
    const versions = ['1.1.0', '1.2.0', '1.3.0'];
    for (const [i, form] of forms.entries()) {
      const body = npmPublishBody(await packFixture({ version: versions[i] as string }), { registryUrl: url });
      expect((await raw(url, 'PUT', `/${form}`, { token: owner, body })).status, `owner publish ${form}`).toBe(201);
      expect(await actions[1]?.[1](owner, form), `owner yank ${form}`).toBe(200);
      expect(await actions[2]?.[1](owner, form), `owner dist-tag add ${form}`).toBe(201);
      expect(((await raw(url, 'GET', '/-/package/@rump%2ftcpip/dist-tags')).json() as Record<string, string>).beta).toBe('1.0.0');
      expect(await actions[3]?.[1](owner, form), `owner dist-tag rm ${form}`).toBe(200);
    }
    const p = (await raw(url, 'GET', '/@rump%2ftcpip')).json() as Packument;
    expect(Object.keys(p.versions)).toEqual(['1.0.0', '1.1.0', '1.2.0', '1.3.0']);
    expect(p['dist-tags']).toEqual({ latest: '1.3.0' });
    // a second publisher cannot take over a new name's ownership; a fresh name belongs to its first publisher
    // (its own library name and aliases: the fixture's defaults are alice's tcpip's claims, docs/registry-policy.md)
    const fresh = npmPublishBody(await packFixture({ name: '@rump/virtio-net', version: '1.0.0', lib: 'librumpdev_virtio_if_vioif', aliases: ['vioif'] }), { registryUrl: url });
    expect((await raw(url, 'PUT', '/@rump%2fvirtio-net', { token: other, body: fresh })).status).toBe(201);
    expect(((await raw(url, 'GET', '/@rump%2fvirtio-net')).json() as Packument).maintainers).toEqual([{ name: 'bob' }]);
    const text = JSON.stringify(events);
    for (const t of [owner, other, revoked]) expect(text).not.toContain(t);
  });
});

describe('registry server: hostile requests', () => {
  let ctx: Awaited<ReturnType<typeof start>>;
  let token: string;

  beforeAll(async () => {
    ctx = await start({ limits: { maxBodyBytes: 64 * 1024, maxJsonDepth: 32, requestTimeoutMs: 1500 } });
    token = await ctx.server.tokens.add('alice');
    const r = await raw(ctx.url, 'PUT', '/@rump%2ftcpip', { token, body: npmPublishBody(await packFixture(), { registryUrl: ctx.url }) });
    expect(r.status).toBe(201);
  });

  it('refuses manifest confusion, integrity mismatches and inconsistent bodies with 400 (SV-05/IN-04)', async () => {
    const before = hashTree(ctx.dir);
    const pack = await packFixture({ version: '10.1.0', dependencies: { '@rump/net': '^10.0.0' } });
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['extra dependency', npmPublishBody(pack, { mutate: (d) => (d.dependencies = { '@rump/net': '^10.0.0', '@rump/evil': '*' }) }), 'E_MANIFEST_CONFUSION'],
      ['hidden dependency', npmPublishBody(pack, { mutate: (d) => delete d.dependencies }), 'E_MANIFEST_CONFUSION'],
      ['other rump section', npmPublishBody(pack, { mutate: (d) => ((d.rump as Record<string, unknown>).lib = 'librumpevil') }), 'E_MANIFEST_CONFUSION'],
      ['other license', npmPublishBody(pack, { mutate: (d) => (d.license = 'MIT') }), 'E_MANIFEST_CONFUSION'],
      ['wrong integrity', npmPublishBody(pack, { mutate: (d) => ((d.dist as Record<string, unknown>).integrity = integrityOf(Buffer.from('other'))) }), 'E_INTEGRITY'],
      ['wrong shasum', npmPublishBody(pack, { mutate: (d) => ((d.dist as Record<string, unknown>).shasum = '0'.repeat(40)) }), 'E_INTEGRITY'],
    ];
    const versionLie = npmPublishBody(pack);
    versionLie.versions = { '10.9.0': { ...(Object.values(versionLie.versions as object)[0] as object), version: '10.9.0' } };
    versionLie['dist-tags'] = { latest: '10.9.0' };
    versionLie._attachments = { 'tcpip-10.9.0.tgz': Object.values(versionLie._attachments as object)[0] };
    cases.push(['version lie', versionLie, 'E_MANIFEST_CONFUSION']);
    const nameLie = npmPublishBody(pack);
    nameLie.name = '@rump/other';
    cases.push(['body names another package', nameLie, 'E_MANIFEST_CONFUSION']);
    const attLie = npmPublishBody(pack);
    attLie._attachments = { 'tcpip-9.0.0.tgz': Object.values(attLie._attachments as object)[0] };
    cases.push(['attachment name', attLie, 'E_SCHEMA']);
    const lengthLie = npmPublishBody(pack);
    (Object.values(lengthLie._attachments as object)[0] as Record<string, unknown>).length = 3;
    cases.push(['attachment length', lengthLie, 'E_TAR_CORRUPT']);
    const notBase64 = npmPublishBody(pack);
    (Object.values(notBase64._attachments as object)[0] as Record<string, unknown>).data = '%%%%';
    cases.push(['attachment not base64', notBase64, 'E_SCHEMA']);
    for (const [label, body, code] of cases) {
      const r = await raw(ctx.url, 'PUT', '/@rump%2ftcpip', { token, body });
      expect(r.status, `${label}: ${r.body.toString()}`).toBe(400);
      expect((r.json() as { code: string }).code, label).toBe(code);
    }
    expect(hashTree(ctx.dir)).toBe(before);
  });

  it('refuses tarballs that fail the unpack policy with 400', async () => {
    const before = hashTree(ctx.dir);
    const m = manifestJson({ version: '10.2.0', dependencies: {} });
    const tarballs: Array<[string, Buffer]> = [
      ['symlink', gz(buildTar([...componentEntries(m), { path: 'package/evil', type: 'SymbolicLink', linkpath: '/etc/passwd' }]))],
      ['traversal', gz(buildTar([...componentEntries(m), { path: 'package/../../../evil', data: 'x' }]))],
      ['not gzip', Buffer.from('definitely not a tarball')],
      ['setuid', gz(buildTar([...componentEntries(m), { path: 'package/suid', data: 'x', mode: 0o4755 }]))],
    ];
    for (const [label, tgz] of tarballs) {
      const body = {
        name: '@rump/tcpip',
        'dist-tags': { latest: '10.2.0' },
        versions: { '10.2.0': { ...m, dist: { integrity: integrityOf(tgz) } } },
        _attachments: { 'tcpip-10.2.0.tgz': { data: tgz.toString('base64'), length: tgz.length } },
      };
      const r = await raw(ctx.url, 'PUT', '/@rump%2ftcpip', { token, body });
      expect(r.status, `${label}: ${r.body.toString()}`).toBe(400);
      expect((r.json() as { code: string }).code, label).toMatch(/^E_TAR_/);
    }
    expect(hashTree(ctx.dir)).toBe(before);
  });

  it('caps bodies (413), refuses malformed and over-deep JSON (400)', async () => {
    const before = hashTree(ctx.dir);
    const big = JSON.stringify({ name: '@rump/tcpip', pad: 'x'.repeat(100 * 1024) });
    expect(await whileSending(() => raw(ctx.url, 'PUT', '/@rump%2ftcpip', { token, rawBody: big }))).toBe(413);
    expect(await whileSending(() => endless(ctx.url, '/@rump%2ftcpip', token))).toBe(413);
    expect((await raw(ctx.url, 'PUT', '/@rump%2ftcpip', { token, rawBody: '{"name": "@rump/tcpip", ' })).status).toBe(400);
    expect((await raw(ctx.url, 'PUT', '/@rump%2ftcpip', { token, rawBody: `${'['.repeat(5000)}${']'.repeat(5000)}` })).status).toBe(400);
    expect((await raw(ctx.url, 'PUT', '/@rump%2ftcpip', { token, rawBody: '{"name":"@rump/tcpip","__proto__":{"polluted":1}}' })).status).toBe(400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await raw(ctx.url, 'PUT', '/@rump%2ftcpip', { token, rawBody: '"just a string"' })).status).toBe(400);
    expect((await raw(ctx.url, 'PUT', '/-/package/@rump%2ftcpip/dist-tags/beta', { token, rawBody: '{' })).status).toBe(400);
    expect((await raw(ctx.url, 'GET', `/${'a'.repeat(5000)}`)).status).toBe(414);
    expect(hashTree(ctx.dir)).toBe(before);
  });

  it('drops a trickled body at the request deadline', async () => {
    const r = await trickle(ctx.url, '/@rump%2ftcpip', token);
    expect([408, 0]).toContain(r);
  });

  it('path escape attempts get 400/404 and leave the tree unchanged (SV-06)', async () => {
    const before = hashTree(ctx.dir);
    const paths = [
      '/..%2f..%2fetc%2fpasswd',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/../../etc/passwd',
      '/@rump/..%2f..%2f..%2fetc',
      '/@rump%2f..%2f..%2fetc',
      '/@rump%2ftcpip/-/..%2fpackument.json',
      '/@rump%2ftcpip/-/tcpip-..%2f..%2f..%2fx.tgz',
      '/@rump%2ftcpip/-/tcpip-10.0.0.tgz%00',
      '/@rump/tcpip/-/tcpip-10.0.0.tgz/../../packument.json',
      '/.registry/tokens.json',
      '/.registry%2ftokens.json',
      '/@rump%2f.registry',
      '/-/package/..%2f..%2fx/dist-tags',
      '/@rump%2ftcpip%00',
      '/%ff',
      '/@rump%2ftcpip\\..\\..',
    ];
    for (const path of paths) {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const r = await raw(ctx.url, method, path, { token, ...(method === 'PUT' ? { body: { name: 'x' } } : {}) });
        expect([400, 404, 405], `${method} ${path}: ${r.status} ${r.body.toString()}`).toContain(r.status);
        expect(r.body.toString()).not.toMatch(/sha256|root:|"versions"/);
      }
    }
    expect(hashTree(ctx.dir)).toBe(before);
  });
});

/** Sends an endless chunked body; resolves with the status the server answers. */
/**
 * The status of a request whose body the server refuses while it is still being sent. The server
 * answers and closes without reading the rest (server.ts); the client may then meet EPIPE or
 * ECONNRESET on a write before it has read the answer — a race in the sending, not an answer —
 * so such a request is sent again (at most 5 times). Any other error, or another status, fails.
 */
async function whileSending(send: () => Promise<{ status: number }>): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await send()).status;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (attempt === 5 || (code !== 'EPIPE' && code !== 'ECONNRESET')) throw e;
    }
  }
}

function endless(baseUrl: string, path: string, token: string): Promise<{ status: number }> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: 'PUT', path, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } }, (res) => {
      res.resume();
      clearInterval(timer);
      resolve({ status: res.statusCode ?? 0 });
      req.destroy();
    });
    req.on('error', (e) => (done ? undefined : reject(e)));
    let done = false;
    const chunk = Buffer.alloc(16 * 1024, 0x20);
    req.write('{"name":"');
    const timer = setInterval(() => {
      if (!req.destroyed) req.write(chunk);
    }, 1);
    setTimeout(() => {
      done = true;
      clearInterval(timer);
      reject(new Error('the server never answered an endless body'));
    }, 20_000).unref();
  });
}

/** Trickles one byte every 200 ms; resolves with the status (0 when the socket was just closed). */
function trickle(baseUrl: string, path: string, token: string): Promise<number> {
  const u = new URL(baseUrl);
  return new Promise((resolve) => {
    const req = request(
      { host: u.hostname, port: u.port, method: 'PUT', path, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': 1000 } },
      (res) => {
        res.resume();
        clearInterval(timer);
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', () => {
      clearInterval(timer);
      resolve(0);
    });
    const timer = setInterval(() => req.write(' '), 200);
  });
}
