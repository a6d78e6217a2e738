/**
 * The provider's capability search (registry/client/provider.ts `providersOf`) against a registry
 * whose search matches loosely (a description, a substring): a hit that shows its keywords without
 * `rump-provides:<cap>` is no candidate — its packument is not even fetched — while a hit with the
 * keyword, or one whose keywords are not shown, is confirmed against its own metadata.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistryClient, createRegistryProvider } from '../../registry/index.js';
import { packFixture, packumentFor, startServer, tempDir, type PackedFixture, type TestServer } from './client-fixtures.js';

let server: TestServer;
const packs = new Map<string, PackedFixture>();
const fetched: string[] = [];

beforeAll(async () => {
  const src = tempDir('provsearch-src');
  for (const [name, provides] of [['@rump/keyed', ['bus:loose']], ['@rump/unkeyed', ['bus:loose']], ['@rump/described', []]] as Array<[string, string[]]>) {
    packs.set(name, await packFixture(src, { name, version: '1.0.0', provides }));
  }
  server = await startServer((req, res) => {
    const url = req.url ?? '';
    if (url.startsWith('/-/v1/search')) {
      const hit = (name: string, keywords?: string[]) => ({ package: { name, version: '1.0.0', description: 'provides bus:loose, says its text', ...(keywords === undefined ? {} : { keywords }) }, searchScore: 1 });
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({ objects: [hit('@rump/keyed', ['rump-component', 'rump-provides:bus:loose']), hit('@rump/described', ['rump-component']), hit('@rump/unkeyed')], total: 3 }),
      );
      return;
    }
    const name = decodeURIComponent(url.slice(1));
    const p = packs.get(name);
    if (p === undefined) {
      res.writeHead(404).end();
      return;
    }
    fetched.push(name);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(packumentFor(p, `${server.url}${name}/-/x.tgz`)));
  });
});

afterAll(async () => {
  await server?.close();
});

describe('providersOf over a loosely matching search', () => {
  it('confirms hits with the keyword (or without shown keywords) and never fetches the others', async () => {
    const client = createRegistryClient({ home: tempDir('provsearch-home'), registries: { '@rump': server.url } });
    expect(await createRegistryProvider(client).providersOf('bus:loose')).toEqual(['@rump/keyed', '@rump/unkeyed']);
    expect(fetched.sort()).toEqual(['@rump/keyed', '@rump/unkeyed']);
  });
});
