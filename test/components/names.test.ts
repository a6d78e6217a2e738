import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isRumpkgError,
  KNOWN_TARGETS,
  nameProblem,
  packagePathProblem,
  parseRange,
  parseSpec,
  parseTarget,
  parseVersion,
  qualifyName,
  rangeProblem,
  splitName,
} from '../../components/index.js';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    if (isRumpkgError(e)) return e.code;
    throw e;
  }
}

describe('component names', () => {
  it('accepts npm-style scoped and bare names', () => {
    for (const ok of ['@rump/tcpip', 'tcpip', 'virtio-net', 'librumpnet_netinet', 'rumpnet_netinet', '@my-org/x.y', 'a', '0']) {
      expect(nameProblem(ok), ok).toBeUndefined();
    }
  });

  it('refuses path tricks, uppercase, reserved and over-long names', () => {
    const bad = [
      '', 'TCPIP', '../etc', 'a/../b', '@rump/../x', '@rump/a/b', 'a/b', '..', '.hidden', '_private', '-x', 'a%2fb',
      'a\\b', ' tcpip', 'tcpip ', 'node_modules', '@rump/node_modules', 'con', 'a..b', 'x.', '@/x', '@rump/', '@rump',
      'é', 'a b', 'x'.repeat(215), 'a\u0000b',
    ];
    for (const n of bad) expect(nameProblem(n), JSON.stringify(n)).toBeDefined();
    expect(nameProblem('x'.repeat(214))).toBeUndefined();
  });

  it('splits and qualifies', () => {
    expect(splitName('@rump/tcpip')).toEqual({ scope: '@rump', bare: 'tcpip' });
    expect(splitName('tcpip')).toEqual({ scope: undefined, bare: 'tcpip' });
    expect(qualifyName('tcpip')).toBe('@rump/tcpip');
    expect(qualifyName('tcpip', { scope: '@acme' })).toBe('@acme/tcpip');
    expect(qualifyName('@x/tcpip')).toBe('@x/tcpip');
    expect(codeOf(() => qualifyName('../tcpip'))).toBe('E_NAME');
    expect(codeOf(() => qualifyName('tcpip', { scope: 'rump' }))).toBe('E_NAME');
    expect(codeOf(() => splitName('A'))).toBe('E_NAME');
  });

  it('every generated valid name survives qualify/split', () => {
    const part = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,20}$/);
    fc.assert(
      fc.property(part, (p) => {
        if (nameProblem(p) !== undefined) return; // reserved words
        const q = qualifyName(p);
        expect(splitName(q)).toEqual({ scope: '@rump', bare: p });
      }),
    );
  });
});

describe('specs, versions and ranges', () => {
  it('parses specs', () => {
    expect(parseSpec('tcpip@^10')).toEqual({ name: 'tcpip', range: '^10' });
    expect(parseSpec('tcpip')).toEqual({ name: 'tcpip', range: '*' });
    expect(parseSpec('@rump/tcpip@>=9 <11')).toEqual({ name: '@rump/tcpip', range: '>=9 <11' });
    expect(parseSpec('@rump/tcpip')).toEqual({ name: '@rump/tcpip', range: '*' });
    expect(parseSpec('tcpip@^10', { scope: '@rump' })).toEqual({ name: '@rump/tcpip', range: '^10' });
    expect(codeOf(() => parseSpec('tcpip@banana'))).toBe('E_SEMVER');
    expect(codeOf(() => parseSpec('../x@1'))).toBe('E_NAME');
    expect(codeOf(() => parseSpec('tcpip@file:../x'))).toBe('E_SEMVER');
    expect(codeOf(() => parseSpec(''))).toBe('E_USAGE');
  });

  it('versions must be canonical semver', () => {
    expect(parseVersion('10.0.0')).toBe('10.0.0');
    expect(parseVersion('10.1.0-rc.1+build.5')).toBe('10.1.0-rc.1+build.5');
    for (const bad of ['10', 'v10.0.0', '10.0', ' 10.0.0', '01.0.0', '1.0.0.0', '']) expect(codeOf(() => parseVersion(bad)), bad).toBe('E_SEMVER');
  });

  it('refuses hostile ranges in bounded time (IN-06)', () => {
    expect(parseRange('^10.0.0')).toBe('^10.0.0');
    expect(parseRange('')).toBe('*');
    expect(parseRange('>=8.0.0 <11.0.0 || 12.x')).toBe('>=8.0.0 <11.0.0 || 12.x');
    const hostile = [
      `>=1.0.0 ${'<2.0.0 '.repeat(60)}`, // > 256 chars
      Array.from({ length: 65 }, (_, i) => `>=${i}`).join(' '), // 65 comparators, < 256 chars? no: check both paths
      Array.from({ length: 70 }, () => '1').join('||'), // 70 alternatives in 139 chars
      '1'.repeat(100000),
      `${'x'.repeat(50)}`,
    ];
    const t0 = Date.now();
    for (const r of hostile) expect(rangeProblem(r), r.slice(0, 40)).toBeDefined();
    expect(rangeProblem(Array.from({ length: 70 }, () => '1').join('||'))).toMatch(/at most 64 comparators/);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});

describe('targets and paths', () => {
  it('parses targets', () => {
    expect(parseTarget('hw-x86_64')).toEqual({ platform: 'hw', arch: 'x86_64' });
    expect(parseTarget('posix-riscv64')).toEqual({ platform: 'posix', arch: 'riscv64' });
    expect(KNOWN_TARGETS).toContain('xen-x86_64');
    expect(KNOWN_TARGETS).toHaveLength(15);
    for (const bad of ['hw', 'x86_64', 'hw-sparc', 'HW-x86_64', 'hw-x86_64 ', 'linux-x86_64']) expect(codeOf(() => parseTarget(bad)), bad).toBe('E_TARGET');
  });

  it('package paths are safe and relative', () => {
    expect(packagePathProblem('lib/posix-x86_64/librumpnet_netinet.a')).toBeUndefined();
    for (const bad of ['', '/etc/passwd', '../x', 'a/../b', 'a/./b', 'a//b', 'a/', '.git/config', 'a\\b', 'C:/x', 'a\u0000b']) {
      expect(packagePathProblem(bad), JSON.stringify(bad)).toBeDefined();
    }
  });
});
