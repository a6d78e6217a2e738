/**
 * Licence policy: SPDX expressions (spdx-expression-parse), OR/AND/WITH/+ semantics of --deny,
 * the catalog's licence notices (BSD-4-Clause, CDDL-1.0 for zfs/solaris), E_LICENSE naming the
 * component for an unparsable expression.
 */
import { describe, expect, it } from 'vitest';
import { catalogEntry, isRumpkgError } from '../../components/index.js';
import { checkLicenses, licenseIds, parseLicense, satisfyWithout } from '../../packager/index.js';

const c = (name: string, license: string) => ({ name, version: '10.0.0', license });

describe('licence expressions', () => {
  it('lists ids, with exceptions and or-later', () => {
    expect(licenseIds(parseLicense('(BSD-3-Clause OR GPL-2.0-only) AND ISC', 'x'))).toEqual(['BSD-3-Clause', 'GPL-2.0-only', 'ISC']);
    expect(licenseIds(parseLicense('GPL-2.0-or-later WITH Linux-syscall-note', 'x'))).toEqual(['GPL-2.0-or-later WITH Linux-syscall-note']);
    expect(licenseIds(parseLicense('Apache-2.0+', 'x'))).toEqual(['Apache-2.0+']);
  });

  it('OR is satisfiable by either side, AND needs both', () => {
    const deny = new Set(['GPL-2.0-only']);
    expect(satisfyWithout(parseLicense('(BSD-3-Clause OR GPL-2.0-only)', 'x'), deny)).toEqual(['BSD-3-Clause']);
    expect(satisfyWithout(parseLicense('BSD-3-Clause AND GPL-2.0-only', 'x'), deny)).toBeNull();
    expect(satisfyWithout(parseLicense('GPL-2.0-only WITH Linux-syscall-note', 'x'), deny)).toBeNull();
    expect(satisfyWithout(parseLicense('GPL-2.0-only WITH Linux-syscall-note', 'x'), new Set(['GPL-2.0-only WITH Linux-syscall-note']))).toBeNull();
    expect(satisfyWithout(parseLicense('MIT', 'x'), deny)).toEqual(['MIT']);
  });

  it('an unparsable expression is E_LICENSE naming the component', () => {
    for (const bad of ['BSD-2-Clause AND', 'not a licence', '', 'MIT OR OR ISC']) {
      let e: unknown;
      try {
        checkLicenses([c('@rump/broken', bad)]);
      } catch (x) {
        e = x;
      }
      expect(isRumpkgError(e, 'E_LICENSE'), bad).toBe(true);
      expect((e as Error).message).toMatch(/@rump\/broken@10\.0\.0/);
    }
  });

  it('--deny with a word that is not an SPDX id is a usage error', () => {
    expect(() => checkLicenses([c('a', 'MIT')], { deny: ['GPL 2'] })).toThrow(/not an SPDX licence id/);
  });
});

describe('policy over catalog licences', () => {
  const zfs = catalogEntry('fs-zfs')!;
  const solaris = catalogEntry('kern-solaris')!;
  const net80211 = catalogEntry('net-net80211')!;
  const base = catalogEntry('base')!;
  const tcpip = catalogEntry('tcpip')!;
  const comps = [zfs, solaris, net80211, base, tcpip].map((e) => c(`@rump/${e.name}`, e.license));

  it('the catalog records CDDL for zfs/solaris, the BSD-3/GPL alternative for net80211, 4-clause for base', () => {
    expect(zfs.license).toMatch(/CDDL-1\.0/);
    expect(solaris.license).toMatch(/CDDL-1\.0/);
    expect(net80211.license).toBe('(BSD-3-Clause OR GPL-2.0-only)');
    expect(base.license).toMatch(/BSD-4-Clause/);
  });

  it('--deny CDDL-1.0 flags exactly zfs and solaris', () => {
    const r = checkLicenses(comps, { deny: ['CDDL-1.0'] });
    expect(r.findings.map((f) => f.component)).toEqual(['@rump/fs-zfs', '@rump/kern-solaris']);
    expect(r.findings[0]!.denied).toEqual(['CDDL-1.0']);
  });

  it('--deny GPL-2.0-only passes net80211 (BSD-3-Clause side); --deny GPL-2.0-only BSD-3-Clause does not', () => {
    expect(checkLicenses(comps, { deny: ['GPL-2.0-only'] }).findings).toEqual([]);
    const r = checkLicenses(comps, { deny: ['GPL-2.0-only', 'BSD-3-Clause'] });
    expect(r.findings.map((f) => f.component)).toContain('@rump/net-net80211');
  });

  it('the summary carries the notices for BSD-4-Clause and CDDL-1.0', () => {
    const r = checkLicenses(comps);
    const row = (id: string) => r.summary.find((s) => s.license === id);
    expect(row('CDDL-1.0')).toMatchObject({ components: ['@rump/fs-zfs', '@rump/kern-solaris'], notice: expect.stringMatching(/copyleft/) });
    expect(row('BSD-4-Clause')!.notice).toMatch(/advertising/);
    expect(row('BSD-2-Clause')!.notice).toBeUndefined();
    expect(r.findings).toEqual([]);
  });
});
