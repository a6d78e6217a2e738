import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { isRumpkgError, parseAr } from '../../components/index.js';
import { compile, read, run, tempDir, works } from './elf-helpers.js';

function expectArError(bytes: Uint8Array, pattern: RegExp): void {
  let err: unknown;
  try {
    parseAr(bytes, { file: 'lib.a' });
  } catch (e) {
    err = e;
  }
  expect(isRumpkgError(err, 'E_ELF'), String(err)).toBe(true);
  expect((err as Error).message).toContain('lib.a');
  expect((err as Error).message).toMatch(pattern);
}

/** An ar member header: name (16), date, uid, gid, mode, size, "`\n". */
function header(name: string, size: number | string): string {
  return name.padEnd(16) + '0'.padEnd(12) + '0'.padEnd(6) + '0'.padEnd(6) + '644'.padEnd(8) + String(size).padEnd(10) + '`\n';
}
const enc = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

let tmp: ReturnType<typeof tempDir>;
const names = ['a.o', 'exactly15chars.o', 'a_rather_long_member_name_for_gnu.o', 'b.o'];
let lib: string;
beforeAll(() => {
  tmp = tempDir('rumpkg-ar-');
  const objs = names.map((n, i) => compile(tmp.dir, n.replace(/\.o$/, ''), `int sym_${i}(void) { return ${i}; }\n`, ['-O1']));
  lib = join(tmp.dir, 'librumptest.a');
  run('ar', ['rcs', lib, ...objs]);
});
afterAll(() => tmp.cleanup());

describe('parseAr on archives made by ar', () => {
  it('GNU ar rcs: symbol table skipped, short and long names, member bytes equal `ar p`', () => {
    const a = parseAr(read(lib), { file: lib });
    expect(a.symbolIndex).toBe('sysv');
    expect(a.members.map((m) => m.name)).toEqual(run('ar', ['t', lib]).trim().split('\n'));
    expect(a.members.map((m) => m.name)).toEqual(names);
    for (const m of a.members) {
      const want = execFileSync('ar', ['p', lib, m.name]);
      expect(Buffer.from(m.data).equals(want)).toBe(true);
      expect(m.size).toBe(want.length);
    }
  });

  it.skipIf(!works('llvm-ar', ['--version']))('BSD-format archives from llvm-ar (#1/len names, __.SYMDEF)', () => {
    const bsd = join(tmp.dir, 'libbsd.a');
    run('llvm-ar', ['--format=bsd', 'rcs', bsd, ...names.map((n) => join(tmp.dir, n))]);
    const a = parseAr(read(bsd), { file: bsd });
    expect(a.symbolIndex).toBe('bsd');
    expect(a.members.map((m) => m.name)).toEqual(names);
    for (const m of a.members) expect(Buffer.from(m.data).equals(execFileSync('ar', ['p', lib, m.name]))).toBe(true);
  });

  it('hand-written BSD #1/len member, GNU /SYM64/ table, odd sizes with padding', () => {
    const bytes = enc(
      '!<arch>\n' +
        header('/SYM64/', 8) + '\0'.repeat(8) +
        header('#1/20', 20 + 3) + 'long_bsd_name.o\0\0\0\0\0' + 'abc' + '\n' +
        header('short.o/', 1) + 'x' + '\n',
    );
    const a = parseAr(bytes, { file: 'lib.a' });
    expect(a.symbolIndex).toBe('sysv64');
    expect(a.members.map((m) => [m.name, Buffer.from(m.data).toString()])).toEqual([
      ['long_bsd_name.o', 'abc'],
      ['short.o', 'x'],
    ]);
  });
});

describe('malformed archives give E_ELF naming the archive', () => {
  it('empty, bad magic, thin', () => {
    expectArError(new Uint8Array(0), /empty/);
    expectArError(enc('!<arc'), /no ar magic/);
    expectArError(enc('\x7fELF\x02\x01\x01\0'), /no ar magic/);
    expectArError(enc('!<thin>\n'), /thin archives/);
  });

  it('truncated archives from ar, at many cut points', () => {
    const b = read(lib);
    let errors = 0;
    for (let n = 9; n < b.length; n += 7) {
      try {
        parseAr(b.subarray(0, n), { file: 'lib.a' });
      } catch (e) {
        expect(isRumpkgError(e, 'E_ELF'), String(e)).toBe(true);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(0);
  });

  it('bad header fields', () => {
    expectArError(enc('!<arch>\n' + header('a.o/', 4).slice(0, 58) + 'XX' + 'abcd'), /terminator/);
    expectArError(enc('!<arch>\n' + header('a.o/', '12a') + 'abcd'), /invalid size field "12a"/);
    expectArError(enc('!<arch>\n' + header('a.o/', '') + 'abcd'), /invalid size field/);
    expectArError(enc('!<arch>\n' + header('a.o/', 400) + 'abcd'), /extends past the end/);
    expectArError(enc('!<arch>\n' + header('a.o/', 4).slice(0, 30)), /truncated member header/);
  });

  it('bad long names', () => {
    expectArError(enc('!<arch>\n' + header('/0', 2) + 'ab'), /no \/\/ table/);
    expectArError(enc('!<arch>\n' + header('//', 6) + 'xy.o/\n' + header('/99', 2) + 'ab'), /outside the \/\/ table/);
    expectArError(enc('!<arch>\n' + header('//', 4) + 'xy.o' + header('/0', 2) + 'ab'), /unterminated/);
    expectArError(enc('!<arch>\n' + header('/zz', 2) + 'ab'), /invalid name/);
    expectArError(enc('!<arch>\n' + header('#1/99', 4) + 'abcd'), /BSD long name/);
    expectArError(enc('!<arch>\n' + header('a.o/', 2) + 'ab' + header('/', 0)), /symbol table member .* not the first/);
  });
});
