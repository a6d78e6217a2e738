/**
 * Alias ownership (docs/registry-policy.md): a NetBSD library name or an alias is a claim on a
 * word users type (`rumpkg add netinet`), so it is dependency-confusion surface.
 *
 * - rumpkg's registries (the file registry and `rumpkg registry serve`) refuse a publish whose
 *   `lib`, aliases or name take a word another component of the same scope already claims,
 *   unless one owner holds both (E_ALIAS_CONFLICT; the tree is byte-identical afterwards);
 * - the client refuses to pick between two components that claim one word, whatever registry
 *   served them (E_AMBIGUOUS_NAME naming both, and how to choose), and never depends on name order;
 * - the choice is recorded as the full name in rumpkg.json, and update/remove resolve a word
 *   against the project's own components first, so a later squatter changes nothing.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isRumpkgError, packComponent } from '../../components/index.js';
import { addComponents, installProject, removeComponents, updateComponents } from '../../packager/index.js';
import { createFileStorage, createRegistryClient, createRegistryServer } from '../../registry/index.js';
import { componentDir, packFixture, packumentFor, startServer, type FixtureComponent, type PackedFixture } from '../registry/client-fixtures.js';
import { npmPublishBody, raw } from '../registry/server-fixtures.js';
import { assertDistFresh, hashTree, runCli, tempDir, writeProject } from './helpers.js';

async function codeOf(p: Promise<unknown>): Promise<{ code: string; message: string; hint?: string }> {
  try {
    await p;
  } catch (e) {
    if (!isRumpkgError(e)) throw e;
    return { code: e.code, message: e.message, ...(e.hint === undefined ? {} : { hint: e.hint }) };
  }
  return { code: 'ok', message: '' };
}

const pack = async (c: FixtureComponent): Promise<Buffer> => (await packComponent(componentDir(tempDir('claims-src'), c))).data;

const FOO: FixtureComponent = { name: '@rump/foo', version: '1.0.0', lib: 'librumpfoo' };

describe('the file registry refuses a claim on a word another owner already holds', () => {
  const squats: Array<[string, FixtureComponent]> = [
    ['an alias equal to its lib', { name: '@rump/evil', version: '1.0.0', aliases: ['librumpfoo'] }],
    ['a lib equal to its lib', { name: '@rump/evil', version: '1.0.0', lib: 'librumpfoo' }],
    ['an alias equal to its lib without "lib"', { name: '@rump/evil', version: '1.0.0', aliases: ['rumpfoo'] }],
    ['an alias equal to its name', { name: '@rump/evil', version: '1.0.0', aliases: ['foo'] }],
    ['a name equal to its lib', { name: '@rump/librumpfoo', version: '1.0.0' }],
    ['a name equal to its alias', { name: '@rump/foo-alias', version: '1.0.0' }],
  ];
  it.each(squats)('%s → E_ALIAS_CONFLICT naming the holder; the tree is byte-identical', async (_what, squat) => {
    const dir = join(tempDir('claims-reg'), 'reg');
    const s = createFileStorage(dir);
    await s.publish(await pack({ ...FOO, aliases: ['foo-alias'] }), { owner: 'alice' });
    const bytes = await pack(squat);
    const before = hashTree(dir, { skip: ['.registry'] });
    for (const owner of ['bob', undefined]) {
      const e = await codeOf(s.publish(bytes, owner === undefined ? {} : { owner }));
      expect(e.code, `${squat.name} by ${owner ?? 'an unnamed in-process caller'}`).toBe('E_ALIAS_CONFLICT');
      expect(e.message).toContain('@rump/foo');
      expect(e.message).toContain(squat.name);
      expect(hashTree(dir, { skip: ['.registry'] })).toBe(before);
    }
    expect(await s.listNames()).toEqual(['@rump/foo']);
  });

  it('the same owner may claim a word twice; another scope does not compete; 8 racing claimants give one winner', async () => {
    const dir = join(tempDir('claims-reg'), 'reg');
    const s = createFileStorage(dir);
    await s.publish(await pack(FOO), { owner: 'alice' });
    expect((await codeOf(s.publish(await pack({ name: '@rump/foo-compat', version: '1.0.0', aliases: ['librumpfoo'] }), { owner: 'alice' }))).code).toBe('ok');
    expect((await codeOf(s.publish(await pack({ name: '@acme/evil', version: '1.0.0', aliases: ['librumpfoo'] }), { owner: 'bob' }))).code).toBe('ok');
    // A new word, claimed by eight different owners at once: exactly one wins.
    const racers = await Promise.all(Array.from({ length: 8 }, (_, i) => pack({ name: `@rump/racer${i}`, version: '1.0.0', aliases: ['contested'] })));
    const codes = await Promise.all(racers.map(async (b, i) => (await codeOf(s.publish(b, { owner: `user${i}` }))).code));
    expect(codes.filter((c) => c === 'ok')).toHaveLength(1);
    expect(codes.filter((c) => c === 'E_ALIAS_CONFLICT')).toHaveLength(7);
  });
});

describe('two storage instances (processes) on one registry', () => {
  it("a claim made through one is seen by the other's next publish (its index of claims is refreshed)", async () => {
    const dir = join(tempDir('claims-reg'), 'reg');
    const a = createFileStorage(dir);
    const b = createFileStorage(dir);
    await b.publish(await pack({ name: '@rump/warm', version: '1.0.0' }), { owner: 'bob' }); // b reads and keeps its index
    await a.publish(await pack(FOO), { owner: 'alice' });
    const e = await codeOf(b.publish(await pack({ name: '@rump/evil', version: '1.0.0', aliases: ['librumpfoo'] }), { owner: 'bob' }));
    expect(e.code).toBe('E_ALIAS_CONFLICT');
    expect(e.message).toContain('@rump/foo');
  });
});

describe("rumpkg's server refuses the squat with 409 E_ALIAS_CONFLICT", () => {
  it('bob cannot claim alice\'s library name; the tree is unchanged', async () => {
    const dir = join(tempDir('claims-srv'), 'reg');
    const server = await createRegistryServer(dir);
    try {
      const alice = await server.tokens.add('alice');
      const bob = await server.tokens.add('bob');
      const foo = await packComponent(componentDir(tempDir('claims-src'), FOO));
      expect((await raw(server.url, 'PUT', '/@rump%2ffoo', { token: alice, body: npmPublishBody(foo, { registryUrl: server.url }) })).status).toBe(201);
      const evil = await packComponent(componentDir(tempDir('claims-src'), { name: '@rump/evil', version: '1.0.0', aliases: ['librumpfoo'] }));
      const before = hashTree(dir, { skip: ['.registry'] });
      const r = await raw(server.url, 'PUT', '/@rump%2fevil', { token: bob, body: npmPublishBody(evil, { registryUrl: server.url }) });
      expect(r.status).toBe(409);
      expect((r.json() as { code?: string }).code).toBe('E_ALIAS_CONFLICT');
      expect(hashTree(dir, { skip: ['.registry'] })).toBe(before);
      expect((await raw(server.url, 'GET', '/@rump%2fevil')).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});

/**
 * A registry that enforces nothing (like any npm registry): serves whatever packuments it is
 * given. `claims`: what it answers (200) at rumpkg's claims path; by default it answers 404 there.
 */
async function permissiveRegistry(initial: PackedFixture[], options: { claims?: string } = {}): Promise<{ url: string; set(list: PackedFixture[]): void; close(): Promise<void> }> {
  let served = initial;
  const server = await startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/-/rumpkg/claims' && options.claims !== undefined) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(options.claims);
      return;
    }
    if (url.pathname === '/-/v1/search') {
      const objects = served.map((p) => ({ package: { name: p.manifest.name, version: p.manifest.version, description: '', keywords: [] }, searchScore: 1 }));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ objects, total: objects.length }));
      return;
    }
    for (const p of served) {
      const file = `/${p.manifest.name}/-/${p.manifest.name.split('/')[1]}-${p.manifest.version}.tgz`;
      if (url.pathname === file) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(p.data);
        return;
      }
      if (url.pathname === `/${p.manifest.name.replace('/', '%2f')}`) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(packumentFor(p, `${server.url}${file.slice(1)}`)));
        return;
      }
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"not found"}');
  });
  return { url: server.url, set: (list) => (served = list), close: () => server.close() };
}

function projectOn(url: string): { dir: string; env: NodeJS.ProcessEnv } {
  const root = tempDir('claims-proj');
  const dir = writeProject(join(root, 'p'), {});
  const m = JSON.parse(readFileSync(join(dir, 'rumpkg.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'rumpkg.json'), `${JSON.stringify({ ...m, registries: { '@rump': url } }, null, 2)}\n`);
  return { dir, env: { ...process.env, RUMPKG_HOME: join(root, 'home') } };
}

/** `rumpkg add WORD` on the registry fails with E_AMBIGUOUS_NAME naming every claimant; the registry is closed after. */
async function expectAmbiguous(reg: { url: string; close(): Promise<void> }, word: string, claimants: string[]): Promise<void> {
  try {
    const { dir, env } = projectOn(reg.url);
    const e = await codeOf(addComponents(dir, [word], { env }));
    expect(e.code).toBe('E_AMBIGUOUS_NAME');
    for (const c of claimants) expect(e.message).toContain(c);
  } finally {
    await reg.close();
  }
}

describe('the client never picks between two claimants (any registry)', () => {
  it.each([
    ['@rump/evil', 'an alias'],
    ['@rump/aaa', 'an alias, under a name sorting first'],
    ['@rump/zzz', 'an alias, under a name sorting last'],
  ])('librumpfoo claimed by @rump/foo (lib) and %s (%s) → E_AMBIGUOUS_NAME naming both; nothing written', async (squatter) => {
    const src = tempDir('claims-src');
    const foo = await packFixture(src, FOO);
    const evil = await packFixture(src, { name: squatter, version: '1.0.0', aliases: ['librumpfoo'] });
    const reg = await permissiveRegistry([foo, evil]);
    try {
      const { dir, env } = projectOn(reg.url);
      const before = hashTree(dir);
      const e = await codeOf(addComponents(dir, ['librumpfoo'], { env }));
      expect(e.code).toBe('E_AMBIGUOUS_NAME');
      expect(e.message).toContain('@rump/foo');
      expect(e.message).toContain(squatter);
      expect(e.hint).toMatch(/rumpkg add @rump\/foo/);
      expect(hashTree(dir)).toBe(before);
      // The full name is the way to choose.
      const r = await addComponents(dir, ['@rump/foo'], { env });
      expect(Object.keys(r.manifest.components)).toEqual(['@rump/foo']);
    } finally {
      await reg.close();
    }
  });

  it.each([
    ['no list for the word', '{"claims":{}}'],
    ['a page instead of JSON', '<html>registry</html>'],
    ['a list of something else', '{"claims":{"librumpfoo":["@rump/foo"]}}'],
  ])('a registry whose claims answer is %s is searched word by word: still E_AMBIGUOUS_NAME', async (_what, claims) => {
    const src = tempDir('claims-src');
    const reg = await permissiveRegistry([await packFixture(src, FOO), await packFixture(src, { name: '@rump/evil', version: '1.0.0', aliases: ['librumpfoo'] })], { claims });
    await expectAmbiguous(reg, 'librumpfoo', ['@rump/foo', '@rump/evil']);
  });

  it('a component named like another one\'s alias is ambiguous too (the name does not silently win)', async () => {
    const src = tempDir('claims-src');
    const tcpip = await packFixture(src, { name: '@rump/tcpip', version: '1.0.0', aliases: ['netinet'] });
    const squat = await packFixture(src, { name: '@rump/netinet', version: '1.0.0' });
    const reg = await permissiveRegistry([tcpip, squat]);
    await expectAmbiguous(reg, 'netinet', ['@rump/tcpip', '@rump/netinet']);
  });

  it('a claim in another scope of the same file registry is not a candidate for the default scope', async () => {
    const home = join(tempDir('claims-home'), 'home');
    const s = createFileStorage(join(home, 'registry'));
    await s.publish(await pack({ name: '@acme/x', version: '1.0.0', aliases: ['netinet'] }));
    const client = createRegistryClient({ home, registries: { '@rump': pathToFileURL(join(home, 'registry')).href } });
    expect((await client.resolveName('netinet')).name).toBe('@rump/netinet');
  });
});

describe("rumpkg's registries name every claimant of the words asked at once, in one answer", () => {
  it('`/-/rumpkg/claims`: claims of every version (an old alias too), lib with and without "lib", every scope; a publish shows at once', async () => {
    const server = await createRegistryServer(join(tempDir('claims-srv'), 'reg'));
    try {
      const s = server.storage;
      await s.publish(await pack({ ...FOO, aliases: ['oldword'] }), { owner: 'alice' });
      await s.publish(await pack({ ...FOO, version: '1.1.0' }), { owner: 'alice' }); // no longer lists `oldword`
      await s.publish(await pack({ name: '@rump/foo-compat', version: '1.0.0', aliases: ['librumpfoo'] }), { owner: 'alice' });
      await s.publish(await pack({ name: '@acme/x', version: '1.0.0', aliases: ['librumpfoo'] }), { owner: 'bob' });
      const claims = async (words: string[]): Promise<{ status: number; json: unknown }> => {
        const r = await raw(server.url, 'GET', `/-/rumpkg/claims?${words.map((w) => `word=${encodeURIComponent(w)}`).join('&')}`);
        return { status: r.status, json: r.status === 200 ? r.json() : undefined };
      };
      expect(await claims(['LibRumpFoo', 'rumpfoo', 'oldword', 'foo', 'nothing'])).toEqual({
        status: 200,
        json: {
          claims: {
            librumpfoo: [{ name: '@acme/x', as: 'alias' }, { name: '@rump/foo', as: 'lib' }, { name: '@rump/foo-compat', as: 'alias' }],
            rumpfoo: [{ name: '@rump/foo', as: 'lib librumpfoo without "lib"' }],
            oldword: [{ name: '@rump/foo', as: 'alias' }],
            foo: [{ name: '@rump/foo', as: 'name' }],
            nothing: [],
          },
        },
      });
      expect((await claims([])).json).toEqual({ claims: {} });
      expect((await claims(Array.from({ length: 65 }, (_, i) => `w${i}`))).status).toBe(400);
      // A publish through the server is in the next answer (what it keeps is dropped).
      const alice = await server.tokens.add('alice');
      const late = await packComponent(componentDir(tempDir('claims-src'), { name: '@rump/late', version: '1.0.0', aliases: ['nothing'] }));
      expect((await raw(server.url, 'PUT', '/@rump%2flate', { token: alice, body: npmPublishBody(late, { registryUrl: server.url }) })).status).toBe(201);
      expect(((await claims(['nothing'])).json as { claims: unknown }).claims).toEqual({ nothing: [{ name: '@rump/late', as: 'alias' }] });
    } finally {
      await server.close();
    }
  });

  it('the words of one add cost one claims request and no search; the answers confirmed against the packuments', async () => {
    const paths: string[] = [];
    const server = await createRegistryServer(join(tempDir('claims-srv'), 'reg'), { log: (e) => paths.push(e.path) });
    try {
      const s = server.storage;
      await s.publish(await pack({ ...FOO, aliases: ['oldword'] }), { owner: 'alice' });
      await s.publish(await pack({ ...FOO, version: '1.1.0' }), { owner: 'alice' });
      await s.publish(await pack({ name: '@rump/foo-compat', version: '1.0.0', aliases: ['librumpfoo'] }), { owner: 'alice' });
      await s.publish(await pack({ name: '@rump/bar', version: '1.0.0' }), { owner: 'alice' });
      const client = createRegistryClient({ home: join(tempDir('claims-home'), 'home'), registries: { '@rump': `${server.url}/` } });
      const [bar, old, lib, none] = await Promise.allSettled(['bar', 'oldword', 'librumpfoo', 'nothing'].map((w) => client.resolveName(w)));
      expect(bar).toEqual({ status: 'fulfilled', value: { name: '@rump/bar' } });
      // Only an older version of @rump/foo lists `oldword`: a search (which shows the newest) misses it.
      expect(old).toEqual({ status: 'fulfilled', value: { name: '@rump/foo', note: 'oldword is the alias of @rump/foo; rumpkg.json records the full name' } });
      const refused: unknown = lib?.status === 'rejected' ? lib.reason : undefined;
      expect(isRumpkgError(refused, 'E_AMBIGUOUS_NAME')).toBe(true);
      expect((refused as Error).message).toContain('@rump/foo-compat');
      expect(none).toEqual({ status: 'fulfilled', value: { name: '@rump/nothing' } });
      expect(paths.filter((p) => p === '/-/rumpkg/claims')).toHaveLength(1);
      expect(paths.filter((p) => p.startsWith('/-/v1/search'))).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('the file registry answers from its claims too: an old alias resolves, with the note', async () => {
    const home = join(tempDir('claims-home'), 'home');
    const s = createFileStorage(join(home, 'registry'));
    await s.publish(await pack({ ...FOO, aliases: ['oldword'] }));
    await s.publish(await pack({ ...FOO, version: '1.1.0' }));
    const client = createRegistryClient({ home, registries: { '@rump': pathToFileURL(join(home, 'registry')).href } });
    expect(await client.resolveName('oldword')).toEqual({ name: '@rump/foo', note: 'oldword is the alias of @rump/foo; rumpkg.json records the full name' });
  });
});

describe('the choice is recorded: a later squatter changes nothing in an existing project', () => {
  it('rumpkg.json holds the full name; install, update WORD and remove WORD keep meaning @rump/foo', async () => {
    const src = tempDir('claims-src');
    const foo = await packFixture(src, FOO);
    const reg = await permissiveRegistry([foo]);
    try {
      const { dir, env } = projectOn(reg.url);
      const added = await addComponents(dir, ['librumpfoo'], { env });
      expect(added.notes.join('\n')).toContain('@rump/foo');
      const recorded = JSON.parse(readFileSync(join(dir, 'rumpkg.json'), 'utf8')) as { components: Record<string, string> };
      expect(recorded.components).toEqual({ '@rump/foo': '^1.0.0' });
      const lock = readFileSync(join(dir, 'rumpkg.lock'), 'utf8');
      // Now a squatter appears, claiming the word the project was added with.
      reg.set([foo, await packFixture(src, { name: '@rump/evil', version: '1.0.0', aliases: ['librumpfoo'] })]);
      expect((await installProject(dir, { env })).lockWritten).toBe(false);
      const u = await updateComponents(dir, ['librumpfoo'], { env });
      expect(Object.keys(u.lockfile.targets['posix-x86_64']!.components)).toEqual(['@rump/foo']);
      expect(readFileSync(join(dir, 'rumpkg.lock'), 'utf8')).toBe(lock);
      const r = await removeComponents(dir, ['librumpfoo'], { env });
      expect(r.manifest.components).toEqual({});
    } finally {
      await reg.close();
    }
  });
});

describe('the CLI on the embedded file registry', () => {
  it('two components of one owner claiming a word: `rumpkg add WORD` exits 1 with E_AMBIGUOUS_NAME, the full name works', async () => {
    assertDistFresh();
    const root = tempDir('claims-cli');
    const env = { ...process.env, RUMPKG_HOME: join(root, 'home'), NO_COLOR: '1' };
    const src = join(root, 'src');
    const a = componentDir(src, FOO);
    const b = componentDir(src, { name: '@rump/evil', version: '1.0.0', aliases: ['librumpfoo'] });
    expect((await runCli(['publish', a, b], { cwd: root, env })).code).toBe(0);
    const dir = writeProject(join(root, 'p'), {});
    const before = hashTree(dir);
    const r = await runCli(['add', 'librumpfoo'], { cwd: dir, env });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toContain('E_AMBIGUOUS_NAME');
    expect(r.stderr).toContain('@rump/foo');
    expect(r.stderr).toContain('@rump/evil');
    expect(hashTree(dir)).toBe(before);
    const ok = await runCli(['add', '@rump/foo'], { cwd: dir, env });
    expect(ok.code, ok.stderr).toBe(0);
    expect((JSON.parse(readFileSync(join(dir, 'rumpkg.json'), 'utf8')) as { components: object }).components).toEqual({ '@rump/foo': '^1.0.0' });
  });
});
