/**
 * OSV advisories: ranges (SEMVER/ECOSYSTEM introduced/fixed/last_affected, versions lists), name
 * matching (scoped, bare, lib, alias), severity from database_specific or CVSS v3 vectors,
 * --audit-level → exit 3 or 0 through the CLI, E_ADVISORY naming the file and JSON pointer.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';
import { isRumpkgError } from '../../components/index.js';
import { atOrAbove, cvss3BaseScore, matchAdvisories, parseAdvisory, rangeAffects, readAdvisories } from '../../packager/index.js';
import { corpusRoot, tempDir, writeProject } from './helpers.js';

const osv = (id: string, name: string, extra: Record<string, unknown> = {}, affected: Record<string, unknown> = {}) => ({
  schema_version: '1.6.0',
  id,
  summary: `${id} in ${name}`,
  affected: [{ package: { ecosystem: 'npm', name }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '10.1.0' }] }], ...affected }],
  ...extra,
});

describe('OSV ranges', () => {
  const r = (events: object[]) => ({ type: 'SEMVER', events });
  it('introduced/fixed, last_affected, several intervals', () => {
    expect(rangeAffects(r([{ introduced: '0' }, { fixed: '10.1.0' }]), '10.0.0')).toEqual({ affected: true, fixed: '10.1.0' });
    expect(rangeAffects(r([{ introduced: '0' }, { fixed: '10.1.0' }]), '10.1.0')).toEqual({ affected: false });
    expect(rangeAffects(r([{ introduced: '9.0.0' }, { last_affected: '10.0.0' }]), '10.0.0').affected).toBe(true);
    expect(rangeAffects(r([{ introduced: '9.0.0' }, { last_affected: '10.0.0' }]), '8.0.0').affected).toBe(false);
    expect(rangeAffects(r([{ introduced: '9.0.0' }, { last_affected: '10.0.0' }]), '10.1.0').affected).toBe(false);
    const two = r([{ introduced: '8.0.0' }, { fixed: '8.1.0' }, { introduced: '10.0.0' }, { fixed: '10.0.5' }]);
    expect(['8.0.0', '9.0.0', '10.0.0', '10.1.0'].map((v) => rangeAffects(two, v).affected)).toEqual([true, false, true, false]);
    expect(rangeAffects({ type: 'GIT', events: [{ introduced: 'abc' }] }, '10.0.0').affected).toBe(false);
  });

  it('matches by scoped name, bare name, library and versions list', () => {
    const advisories = [
      parseAdvisory(osv('A-1', '@rump/tcpip'), 'a.json'),
      parseAdvisory(osv('A-2', 'tcpip'), 'a.json'),
      parseAdvisory(osv('A-3', 'librumpnet_netinet'), 'a.json'),
      parseAdvisory({ id: 'A-4', affected: [{ package: { name: 'netinet' }, versions: ['10.0.0'] }] }, 'a.json'),
      parseAdvisory(osv('A-5', '@rump/virtif'), 'a.json'),
    ];
    const m = matchAdvisories([{ name: '@rump/tcpip', version: '10.0.0', lib: 'librumpnet_netinet', aliases: ['netinet'] }], advisories);
    expect(m.map((x) => x.id).sort()).toEqual(['A-1', 'A-2', 'A-3', 'A-4']);
    expect(matchAdvisories([{ name: '@rump/tcpip', version: '10.1.0', lib: 'librumpnet_netinet' }], advisories).map((x) => x.id)).toEqual([]);
  });
});

describe('severity', () => {
  it('CVSS v3.1 base scores', () => {
    expect(cvss3BaseScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H')).toBe(9.8);
    expect(cvss3BaseScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H')).toBe(10);
    expect(cvss3BaseScore('CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N')).toBe(5.5);
    expect(cvss3BaseScore('CVSS:3.0/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N')).toBe(3.1);
    expect(cvss3BaseScore('CVSS:4.0/AV:N')).toBeUndefined();
  });
  it('database_specific wins; else CVSS; else unknown (counted at every level)', () => {
    expect(parseAdvisory(osv('S', 'x', { database_specific: { severity: 'MEDIUM' }, severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }] }), 'f').severity).toBe('moderate');
    expect(parseAdvisory(osv('S', 'x', { severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }] }), 'f').severity).toBe('critical');
    expect(parseAdvisory(osv('S', 'x'), 'f').severity).toBe('unknown');
    expect(atOrAbove('unknown', 'critical')).toBe(true);
    expect(atOrAbove('moderate', 'high')).toBe(false);
    expect(atOrAbove('high', 'high')).toBe(true);
  });
});

describe('malformed advisories → E_ADVISORY naming file and pointer', () => {
  const cases: Array<[unknown, string]> = [
    [[], '/'],
    [{ affected: [] }, '/id'],
    [{ id: 'X', affected: [{ package: {} }] }, '/affected/0/package/name'],
    [{ id: 'X', affected: [{ package: { name: 'a' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0', fixed: '1.0.0' }] }] }] }, '/affected/0/ranges/0/events/0'],
    [{ id: 'X', affected: [{ package: { name: 'a' }, ranges: [{ type: 'SEMVER', events: [{ fixed: 'banana' }] }] }] }, '/affected/0/ranges/0/events/0/fixed'],
    [{ id: 'X', severity: [{ type: 'CVSS_V3' }] }, '/severity/0'],
  ];
  for (const [doc, pointer] of cases) {
    it(pointer, () => {
      let e: unknown;
      try {
        parseAdvisory(doc, 'adv/x.json');
      } catch (x) {
        e = x;
      }
      expect(isRumpkgError(e, 'E_ADVISORY')).toBe(true);
      expect((e as { context: { pointer: string } }).context.pointer || '/').toBe(pointer);
      expect((e as Error).message).toContain('adv/x.json');
    });
  }
  it('bad JSON in a directory names the file', async () => {
    const d = tempDir('rumpkg-adv-');
    writeFileSync(join(d, 'good.json'), JSON.stringify(osv('G', 'a')));
    mkdirSync(join(d, 'sub'));
    writeFileSync(join(d, 'sub', 'bad.json'), '{"id": ');
    const e = await readAdvisories(d).catch((x: unknown) => x);
    expect(isRumpkgError(e, 'E_ADVISORY')).toBe(true);
    expect((e as Error).message).toContain(join(d, 'sub', 'bad.json'));
  });
});

describe('rumpkg audit --advisories --audit-level (lockfile audit)', () => {
  afterEach(() => {
    process.exitCode = undefined;
    vi.restoreAllMocks();
  });
  async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
    try {
      return { code: await main(argv), stdout, stderr };
    } finally {
      vi.restoreAllMocks();
      process.exitCode = undefined;
    }
  }

  it('exit 3 at or above the level, 0 below it, for each level', async () => {
    const root = await corpusRoot();
    const dir = tempDir('rumpkg-adv-project-');
    writeProject(dir, root);
    const levels = ['low', 'moderate', 'high', 'critical'] as const;
    for (const [i, severity] of levels.entries()) {
      const adv = join(tempDir('rumpkg-adv-'), 'adv.json');
      writeFileSync(adv, JSON.stringify(osv(`RUMP-${severity}`, 'tcpip', { database_specific: { severity: severity.toUpperCase() } })));
      for (const [j, level] of levels.entries()) {
        const r = await run(['--json', 'audit', '--cwd', dir, '--advisories', adv, '--audit-level', level, '--no-registry']);
        expect({ severity, level, code: r.code }).toEqual({ severity, level, code: i >= j ? 3 : 0 });
        if (i >= j) expect((JSON.parse(r.stdout) as { verdict: { error?: { hint?: string } } }).verdict.error?.hint ?? '').toMatch(/--audit-level/);
        const doc = JSON.parse(r.stdout) as { advisories: Array<{ id: string; component: string; fixed?: string }> };
        expect(doc.advisories).toMatchObject([{ id: `RUMP-${severity}`, component: '@rump/tcpip', fixed: '10.1.0' }]);
      }
    }
    // Without --audit-level advisories are reported, not enforced; human output lists them.
    const adv = join(tempDir('rumpkg-adv-'), 'adv.json');
    writeFileSync(adv, JSON.stringify(osv('RUMP-X', '@rump/virtif', { severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }] })));
    const r = await run(['audit', '--cwd', dir, '--advisories', adv, '--no-registry']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/critical\s+RUMP-X\s+@rump\/virtif@10\.0\.0\s+fixed in 10\.1\.0/);
    // A licence deny policy is a finding too.
    const d = await run(['audit', '--cwd', dir, '--deny', 'BSD-2-Clause', '--no-registry']);
    expect(d.code).toBe(3);
    expect(d.stdout).toMatch(/denied: @rump\/tcpip@10\.0\.0 is licensed BSD-2-Clause/);
    // …whose hint is about the licence policy, not about advisories.
    expect(d.stderr).toMatch(/hint: .*--deny/);
    expect(d.stderr).not.toMatch(/advisor/);
    // A malformed advisory file: exit 1, E_ADVISORY.
    writeFileSync(adv, JSON.stringify({ id: 'B', affected: [{ package: { name: 'tcpip' }, versions: 'x' }] }));
    const bad = await run(['audit', '--cwd', dir, '--advisories', adv, '--no-registry']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/error\[E_ADVISORY\].*\/affected\/0\/versions/);
  }, 120_000);
});
