/**
 * `rumpkg validate` end to end, in-process through cli/main.ts (same code path as the binary,
 * without depending on a fresh `npm run build`).
 */
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';
import { designComponentManifest, designProjectManifest, sampleImageManifest, sampleLockfile } from './fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'rumpkg-validate-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  try {
    const code = await main(['--cwd', tmp, ...args]);
    return { code, stdout, stderr };
  } finally {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  }
}

function componentDir(name: string, edit: (m: Record<string, any>) => void = () => {}, withArchive = true): string {
  const dir = join(tmp, name);
  mkdirSync(join(dir, 'lib/posix-x86_64'), { recursive: true });
  const m = designComponentManifest();
  edit(m);
  writeFileSync(join(dir, 'package.json'), JSON.stringify(m, null, 2));
  if (withArchive) writeFileSync(join(dir, 'lib/posix-x86_64/librumpnet_netinet.a'), '!<arch>\n');
  return dir;
}

describe('rumpkg validate', () => {
  it('a valid component manifest, its directory, rumpkg.json, rumpkg.lock, an image manifest', async () => {
    componentDir('ok');
    expect(await run('validate', 'ok/package.json')).toEqual({ code: 0, stdout: '✓ ok/package.json: valid component manifest (@rump/tcpip@10.0.0)\n', stderr: '' });
    expect((await run('validate', 'ok')).stdout).toBe('✓ ok/package.json: valid component manifest (@rump/tcpip@10.0.0)\n');
    writeFileSync(join(tmp, 'rumpkg.json'), JSON.stringify(designProjectManifest()));
    expect((await run('validate', 'rumpkg.json')).stdout).toBe('✓ rumpkg.json: valid project manifest (hello-net, posix-x86_64, hw-x86_64)\n');
    writeFileSync(join(tmp, 'rumpkg.lock'), JSON.stringify(sampleLockfile()));
    expect((await run('validate', 'rumpkg.lock')).stdout).toBe('✓ rumpkg.lock: valid lockfile (1 target(s), 3 locked component(s))\n');
    writeFileSync(join(tmp, 'image.json'), JSON.stringify(sampleImageManifest()));
    expect((await run('validate', 'image.json')).stdout).toBe('✓ image.json: valid image manifest (posix-x86_64, 1 component(s))\n');
  });

  it('schema problems: pointer and expectation printed, exit 1, no stack', async () => {
    componentDir('bad', (m) => {
      m.rump.lib = 'netinet';
      m.rump.colour = 'blue';
    });
    const r = await run('validate', 'bad/package.json');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('rumpkg: error[E_SCHEMA]: bad/package.json is not a valid component manifest (2 problems):');
    expect(r.stderr).toContain('bad/package.json: /rump/lib: "netinet" must match pattern "^lib[a-z0-9_]+$" (expected A NetBSD library name');
    expect(r.stderr).toContain('bad/package.json: /rump/colour: unknown key "colour" (expected one of the keys');
    expect(r.stderr).toContain('hint: ');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a missing archive is a semantic problem (E_MANIFEST)', async () => {
    componentDir('noarchive', () => {}, false);
    const r = await run('validate', 'noarchive');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('rumpkg: error[E_MANIFEST]:');
    expect(r.stderr).toContain('noarchive/package.json: /rump/targets/posix-x86_64/archive: "lib/posix-x86_64/librumpnet_netinet.a" is not in the package (expected a regular file present in the component directory)');
  });

  it('--json prints {file, kind, valid, problems}', async () => {
    componentDir('json', (m) => (m.dependencies['@rump/tcpip'] = '^10'));
    const r = await run('validate', 'json', '--json');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as Record<string, any>;
    expect(doc).toMatchObject({ file: 'json/package.json', kind: 'component-manifest', valid: false, error: { code: 'E_MANIFEST' } });
    expect(doc.problems).toEqual([
      { file: 'json/package.json', pointer: '/dependencies/@rump~1tcpip', message: '@rump/tcpip depends on itself', expected: 'no self-dependency', stage: 'semantic' },
    ]);
    const ok = await run('--json', 'validate', 'ok');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ file: 'ok/package.json', kind: 'component-manifest', valid: true, problems: [] });
  });

  it('__proto__ and syntax errors, a package.json without rump, unknown kinds', async () => {
    writeFileSync(join(tmp, 'rumpkg.json'), '{"schemaVersion":1,"name":"x","targets":["posix-x86_64"],"image":{"__proto__":{"polluted":1}}}');
    let r = await run('validate', 'rumpkg.json');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('rumpkg.json: /image/__proto__: the key "__proto__" is not allowed');
    writeFileSync(join(tmp, 'rumpkg.lock'), '{"lockfileVersion": 1,,}');
    r = await run('validate', 'rumpkg.lock');
    expect(r.stderr).toContain('rumpkg: error[E_JSON_PARSE]: rumpkg.lock is not a valid lockfile (1 problem):\nrumpkg.lock: (root): invalid JSON at line 1, column 23: unexpected "," (expected valid JSON (RFC 8259))');
    mkdirSync(join(tmp, 'npm'), { recursive: true });
    writeFileSync(join(tmp, 'npm/package.json'), '{"name":"left-pad","version":"1.0.0"}');
    r = await run('validate', 'npm/package.json');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('npm/package.json: /rump: this package.json has no "rump" object');
    writeFileSync(join(tmp, 'what.json'), '{"hello": 1}');
    r = await run('validate', 'what.json');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot tell what kind of document what.json is');
    r = await run('validate', 'what.json', '--kind', 'lockfile');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('what.json: /hello: unknown key "hello"');
    r = await run('validate', 'what.json', '--kind', 'banana');
    expect(r.code).toBe(2);
    r = await run('validate', 'missing.json');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error[E_NOT_FOUND]');
  });

  it('a 50 MB document is refused without being read', async () => {
    writeFileSync(join(tmp, 'huge.lock'), '{');
    truncateSync(join(tmp, 'huge.lock'), 50 * 1024 * 1024); // sparse: cheap to create
    const r = await run('--json', 'validate', 'huge.lock', '--kind', 'lockfile');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as Record<string, any>;
    expect(doc).toMatchObject({ file: 'huge.lock', kind: 'lockfile', valid: false, error: { code: 'E_SCHEMA' } });
    expect(doc.problems[0].message).toBe('document is 52428800 bytes, more than the limit of 4194304');
  });
});
