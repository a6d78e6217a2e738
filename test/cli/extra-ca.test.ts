/**
 * The shipped command (package.json bin → dist/rumpkg, made by scripts/bundle.mjs; needs `npm run
 * build`) and NODE_EXTRA_CA_CERTS. Node 20 loads that file on every start; the command hands it over
 * as RUMPKG_DEFERRED_CA_CERTS instead (except for `verify` and `import` other than `import
 * archives`, whose GitHub requests go through Node's fetch), the launcher gives it back to the programs rumpkg starts, and rumpkg's own
 * https agent trusts it (registry/transport/http.ts). Checked here: the command's environment
 * handling with a stand-in `node` that prints what it was given; an https registry on loopback
 * whose certificate only a CA in the file vouches for; and `cc`'s environment during a build.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findProgram } from '../../packager/index.js';
import { runCommand } from '../helpers/cli.js';
import { corpusRoot, writeProject } from '../packager/helpers.js';
import { packFixture, packumentFor } from '../registry/client-fixtures.js';

const ROOT = resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
const COMMAND = join(ROOT, pkg.bin.rumpkg!);
const LAUNCHER = join(ROOT, 'dist/rumpkg.cjs');
const openssl = findProgram('openssl');
const work = mkdtempSync(join(tmpdir(), 'rumpkg-extra-ca-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The environment of this process without either variable, plus `extra`. */
function envWith(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', RUMPKG_HOME: join(work, 'home'), ...extra };
  if (!('NODE_EXTRA_CA_CERTS' in extra)) delete env.NODE_EXTRA_CA_CERTS;
  if (!('RUMPKG_DEFERRED_CA_CERTS' in extra)) delete env.RUMPKG_DEFERRED_CA_CERTS;
  return env;
}

const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd = work): Promise<{ code: number | null; stdout: string; stderr: string }> => runCommand(cmd, args, { cwd, env });

beforeAll(() => {
  if (!existsSync(COMMAND)) throw new Error(`${COMMAND} is missing: run npm run build`);
});

describe('the shipped command (dist/rumpkg)', () => {
  it('is package.json bin, executable, and starts node on the launcher beside it, also through a symlink', async () => {
    expect(pkg.bin.rumpkg).toBe('dist/rumpkg');
    expect(readFileSync(COMMAND, 'utf8').startsWith('#!/bin/sh\n')).toBe(true);
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect(await run(COMMAND, ['--version'], envWith({}))).toMatchObject({ code: 0, stdout: `${version}\n` });
    const dotBin = join(work, 'node_modules', '.bin');
    mkdirSync(dotBin, { recursive: true });
    symlinkSync(COMMAND, join(dotBin, 'rumpkg'));
    expect(await run(join(dotBin, 'rumpkg'), ['--version'], envWith({}))).toMatchObject({ code: 0, stdout: `${version}\n` });
  });

  it('hands NODE_EXTRA_CA_CERTS over as RUMPKG_DEFERRED_CA_CERTS, except for verify and import other than import archives', async () => {
    // A stand-in node first on PATH prints what the command gave it.
    const fake = join(work, 'fake-node');
    mkdirSync(fake, { recursive: true });
    writeFileSync(join(fake, 'node'), '#!/bin/sh\nprintf \'%s|%s|%s\\n\' "${NODE_EXTRA_CA_CERTS-unset}" "${RUMPKG_DEFERRED_CA_CERTS-unset}" "$*"\n');
    chmodSync(join(fake, 'node'), 0o755);
    const ca = '/etc/some ca.pem';
    const seen = async (args: string[], extra: Record<string, string>, via = COMMAND): Promise<string> => {
      const r = await run(via, args, { ...envWith(extra), PATH: `${fake}:${process.env.PATH ?? ''}` });
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    expect(await seen(['build', '--force'], { NODE_EXTRA_CA_CERTS: ca })).toBe(`unset|${ca}|${LAUNCHER} build --force`);
    expect(await seen(['--json', '--cwd', 'import', 'add', 'x'], { NODE_EXTRA_CA_CERTS: ca })).toBe(`unset|${ca}|${LAUNCHER} --json --cwd import add x`);
    expect(await seen(['--version'], { NODE_EXTRA_CA_CERTS: ca })).toBe(`unset|${ca}|${LAUNCHER} --version`);
    expect(await seen(['-q', 'import', 'archives', 'dir'], { NODE_EXTRA_CA_CERTS: ca })).toBe(`unset|${ca}|${LAUNCHER} -q import archives dir`);
    expect(await seen(['import', '--json', 'upstream', 'dir'], { NODE_EXTRA_CA_CERTS: ca })).toBe(`${ca}|unset|${LAUNCHER} import --json upstream dir`);
    expect(await seen(['import', '--help'], { NODE_EXTRA_CA_CERTS: ca })).toBe(`${ca}|unset|${LAUNCHER} import --help`);
    expect(await seen(['verify', 'x'], { NODE_EXTRA_CA_CERTS: ca })).toBe(`${ca}|unset|${LAUNCHER} verify x`);
    // Nothing to hand over; a stale RUMPKG_DEFERRED_CA_CERTS is dropped, never trusted.
    expect(await seen(['build'], {})).toBe(`unset|unset|${LAUNCHER} build`);
    expect(await seen(['build'], { RUMPKG_DEFERRED_CA_CERTS: '/tmp/stale.pem' })).toBe(`unset|unset|${LAUNCHER} build`);
    expect(await seen(['build'], { NODE_EXTRA_CA_CERTS: '' })).toBe(`|unset|${LAUNCHER} build`);
    // Through a relative symlink in another directory (npm's node_modules/.bin), and from its own directory.
    const dotBin = join(work, 'elsewhere', 'node_modules', '.bin');
    mkdirSync(dotBin, { recursive: true });
    const rel = join(...dotBin.split('/').filter(Boolean).map(() => '..'), ...COMMAND.split('/').filter(Boolean));
    symlinkSync(rel, join(dotBin, 'rumpkg'));
    expect(await seen(['why', 'x'], { NODE_EXTRA_CA_CERTS: ca }, join(dotBin, 'rumpkg'))).toMatch(new RegExp(`^unset\\|${ca}\\|/.*dist/rumpkg\\.cjs why x$`));
    const own = await run('sh', ['rumpkg', 'tree'], { ...envWith({}), PATH: `${fake}:${process.env.PATH ?? ''}` }, join(ROOT, 'dist'));
    expect(own.stdout.trim()).toBe('unset|unset|./rumpkg.cjs tree');
  });
});

describe.skipIf(openssl === null)(`an https registry whose CA only NODE_EXTRA_CA_CERTS names${openssl === null ? ' — skipped: openssl is not installed' : ''}`, () => {
  let server: Server;
  let url: string;
  let caFile: string;
  beforeAll(async () => {
    const dir = join(work, 'pki');
    mkdirSync(dir, { recursive: true });
    const ssl = (args: string[]): void => void execFileSync(openssl!, args, { cwd: dir, stdio: 'ignore' });
    ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=rumpkg test CA']);
    ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    ssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext']);
    caFile = join(dir, 'ca.pem');
    const packed = await packFixture(join(work, 'fixtures'), { name: '@rump/solo', version: '1.2.3' });
    server = createServer({ key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) }, (req, res) => {
      const path = decodeURIComponent((req.url ?? '').split('?')[0]!).toLowerCase();
      if (path !== '/@rump/solo') {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(packumentFor(packed, `${url}@rump/solo/-/solo-1.2.3.tgz`)));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('is trusted through the shipped command (deferred) and through the launcher (node loads it), refused without it', async () => {
    const info = (cmd: string, args: string[], extra: Record<string, string>) => run(cmd, [...args, '--json', 'info', '@rump/solo', '--registry', url], envWith(extra));
    const deferred = await info(COMMAND, [], { NODE_EXTRA_CA_CERTS: caFile });
    expect(deferred.code, deferred.stderr).toBe(0);
    expect(JSON.parse(deferred.stdout)).toMatchObject({ name: '@rump/solo', latest: '1.2.3' });
    const eager = await info(process.execPath, [LAUNCHER], { NODE_EXTRA_CA_CERTS: caFile });
    expect(eager.code, eager.stderr).toBe(0);
    expect(JSON.parse(eager.stdout)).toMatchObject({ name: '@rump/solo', latest: '1.2.3' });
    const without = await info(COMMAND, [], {});
    expect(without.code).not.toBe(0);
    expect(without.stderr).toMatch(/certificate/i);
    // An unreadable file is ignored, as node ignores it: the test CA is not trusted then.
    const missing = await info(COMMAND, [], { NODE_EXTRA_CA_CERTS: join(work, 'no-such.pem') });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/certificate/i);
  }, 60_000);
});

describe.skipIf(findProgram('cc') === null)('the programs rumpkg starts', () => {
  it('get NODE_EXTRA_CA_CERTS back (cc during a build through the shipped command)', async () => {
    const root = await corpusRoot();
    const dir = join(work, 'project');
    mkdirSync(dir, { recursive: true });
    writeProject(dir, root);
    // A cc first on PATH that records its environment and runs the real one.
    const wrap = join(work, 'cc-wrapper');
    mkdirSync(wrap, { recursive: true });
    const log = join(work, 'cc-env.log');
    writeFileSync(join(wrap, 'cc'), `#!/bin/sh\nprintf '%s|%s\\n' "\${NODE_EXTRA_CA_CERTS-unset}" "\${RUMPKG_DEFERRED_CA_CERTS-unset}" >> '${log}'\nexec '${findProgram('cc')!}' "$@"\n`);
    chmodSync(join(wrap, 'cc'), 0o755);
    const ca = join(work, 'any-ca.pem');
    const r = await run(COMMAND, ['build', '--components-dir', root], { ...envWith({ NODE_EXTRA_CA_CERTS: ca }), PATH: `${wrap}:${process.env.PATH ?? ''}` }, dir);
    expect(r.code, r.stderr).toBe(0);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toBe(`${ca}|${ca}`);
  }, 120_000);
});
