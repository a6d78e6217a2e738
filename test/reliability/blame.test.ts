/**
 * Errors name the true source of bad data, and messages say what really happened:
 * - a tarball location in a registry's packument that is not a tarball of that component
 *   (`../../../../etc/passwd`, another host) is blamed on the registry — its URL and
 *   `name@version` — not on a lockfile (there may be none), and nothing is written;
 * - `rumpkg install` never says "lockfile unchanged" while it rewrites rumpkg.lock: it says that
 *   no version changed and why the file was rewritten.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isRumpkgError } from '../../components/index.js';
import { addComponents } from '../../packager/index.js';
import { packFixture, packumentFor, startServer } from '../registry/client-fixtures.js';
import { assertDistFresh, hashTree, registryHome, runCli, tempDir, writeProject } from './helpers.js';

beforeAll(() => assertDistFresh());

describe('a hostile tarball location is blamed on the registry that served it', () => {
  const cases: Array<[string, string, string]> = [
    ['a relative path that climbs out of the registry', 'E_REGISTRY', '../../../../etc/passwd'],
    ['a path into another component', 'E_REGISTRY', '@rump/other/-/other-1.0.0.tgz'],
    ['a URL on another host', 'E_FOREIGN_TARBALL', 'http://127.0.0.2:9/@rump/evil/-/evil-1.0.0.tgz'],
  ];
  it.each(cases)('%s → %s naming the registry URL and @rump/evil@1.0.0, with no lockfile anywhere', async (_what, code, tarball) => {
    const p = await packFixture(tempDir('blame-src'), { name: '@rump/evil', version: '1.0.0' });
    const server = await startServer((req, res) => {
      if (req.url === '/@rump%2fevil') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(packumentFor(p, tarball)));
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{}');
      }
    });
    try {
      const root = tempDir('blame');
      const dir = writeProject(join(root, 'p'), {});
      const m = JSON.parse(readFileSync(join(dir, 'rumpkg.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(dir, 'rumpkg.json'), `${JSON.stringify({ ...m, registries: { '@rump': server.url } }, null, 2)}\n`);
      const env = { ...process.env, RUMPKG_HOME: join(root, 'home') };
      const before = hashTree(dir);
      let err: unknown;
      await addComponents(dir, ['@rump/evil'], { env }).catch((e: unknown) => (err = e));
      expect(isRumpkgError(err), String(err)).toBe(true);
      const e = err as { code: string; message: string; hint?: string };
      expect(e.code).toBe(code);
      expect(e.message).toContain('@rump/evil@1.0.0');
      expect(e.message).toContain(server.url.replace(/\/$/, ''));
      expect(`${e.message} ${e.hint ?? ''}`).not.toMatch(/lockfile|rumpkg\.lock/);
      expect(hashTree(dir)).toBe(before);
      // The CLI says the same.
      const r = await runCli(['add', '@rump/evil'], { cwd: dir, env });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`error[${code}]`);
      expect(r.stderr).not.toMatch(/lockfile|rumpkg\.lock/);
    } finally {
      await server.close();
    }
  });
});

describe('rumpkg install says what happened to rumpkg.lock', () => {
  it('nothing to do: "lockfile unchanged"; rewritten with the same versions: says so and why, never "unchanged"', async () => {
    const { root, env } = await registryHome();
    const dir = writeProject(join(root, 'p'), { '@rump/solo-w': '^1.0.0' });
    const first = await runCli(['install'], { cwd: dir, env: { ...env, NO_COLOR: '1' } });
    expect(first.code, first.stderr).toBe(0);
    const lock = readFileSync(join(dir, 'rumpkg.lock'), 'utf8');

    const idle = await runCli(['install'], { cwd: dir, env: { ...env, NO_COLOR: '1' } });
    expect(idle.stdout).toContain('lockfile unchanged');
    expect(idle.stdout).not.toContain('written');
    expect(readFileSync(join(dir, 'rumpkg.lock'), 'utf8')).toBe(lock);

    // A wider range the locked version still satisfies: the closure stays, rumpkg.lock records the new range.
    writeProject(dir, { '@rump/solo-w': '>=1.0.0 <3.0.0' });
    const r = await runCli(['install'], { cwd: dir, env: { ...env, NO_COLOR: '1' } });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'rumpkg.lock'), 'utf8')).not.toBe(lock);
    expect(r.stdout).not.toContain('lockfile unchanged');
    expect(r.stdout).toMatch(/no version changed; rumpkg\.lock rewritten: the requested range of @rump\/solo-w changed \(\^1\.0\.0 → >=1\.0\.0 <3\.0\.0\)/);
    const json = await runCli(['--json', 'install'], { cwd: dir, env });
    expect((JSON.parse(json.stdout) as { lockWritten: boolean }).lockWritten).toBe(false);
  });
});
