/**
 * The image manifest as a linked object (packager/build/manifest-object.ts): what the ELF reader
 * sees in it for each architecture it serves, that the --dry-run script's printf/here-document
 * lines write exactly its bytes, and that the real cc/ld link of a program with it makes the very
 * bytes `objcopy --add-section … --set-section-flags …=noload,readonly` makes of the same link; for
 * a freestanding ld.lld link with a linker script (the hw targets), the same segments, the same
 * loaded bytes and the same section contents.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MANIFEST_SECTION, parseElf } from '../../components/index.js';
import { findProgram } from '../../packager/index.js';
import { renderManifestObject } from '../../packager/build/manifest-object.js';
import { planLink, renderPlanScript } from '../../packager/build/link-plan.js';
import { selectToolchain } from '../../packager/build/toolchain.js';
import type { LockedTarget } from '../../components/index.js';

const dirs: string[] = [];
const temp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'rumpkg-manifest-object-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// Unicode, a line that is the script's here-document tag, printf's % and a backslash.
const MANIFEST = '{\n  "project": "caf\u00e9 \u2603",\n  "note": "100% \\\\ done"\n}\nRUMPKG_EOF\n';

describe('the manifest object', () => {
  it.each([
    ['posix-x86_64', 64, 62],
    ['posix-i386', 32, 3],
    ['posix-aarch64', 64, 183],
  ] as const)('%s: a relocatable ELF%i object for machine %i holding the manifest in a non-allocated section', (target, elfClass, machine) => {
    const bytes = renderManifestObject(MANIFEST, target);
    const elf = parseElf(bytes, { file: 'rumpkg-manifest.o' });
    expect(elf).toMatchObject({ class: elfClass, endian: 'le', machine, type: 'rel', symbols: [] });
    const sec = elf.sections.find((s) => s.name === MANIFEST_SECTION)!;
    expect(sec).toMatchObject({ type: 1, flags: 0, addralign: 1, size: Buffer.byteLength(MANIFEST) });
    expect(Buffer.from(bytes.subarray(sec.offset, sec.offset + sec.size)).toString('utf8')).toBe(MANIFEST);
    expect(elf.sections.find((s) => s.name === '.note.GNU-stack')).toMatchObject({ type: 1, flags: 0, size: 0 });
  });

  it('the --dry-run script writes the same bytes', () => {
    const lt: LockedTarget = { platform: null, components: {}, linkOrder: [], initOrder: [] };
    const plan = planLink({
      target: 'posix-x86_64',
      lockedTarget: lt,
      componentDirs: {},
      app: { sources: [], objects: [] },
      glue: 'int x;\n',
      manifest: MANIFEST,
      output: '/p/img',
      toolchain: selectToolchain('posix-x86_64', { hostArch: 'x86_64' }),
    });
    const script = renderPlanScript(plan);
    const lines = script.split('\n');
    const from = lines.findIndex((l) => l.startsWith('printf') && l.endsWith('> rumpkg-manifest.o'));
    const to = lines.findIndex((l) => l.startsWith('printf') && l.endsWith('>> rumpkg-manifest.o'));
    expect(from).toBeGreaterThan(0);
    expect(to).toBeGreaterThan(from);
    const dir = temp();
    execFileSync('sh', ['-c', `set -eu\n${lines.slice(from, to + 1).join('\n')}\n`], { cwd: dir });
    expect(readFileSync(join(dir, 'rumpkg-manifest.o')).equals(renderManifestObject(MANIFEST, 'posix-x86_64'))).toBe(true);
  });

  it('linked after the program by the host cc, it makes the image objcopy --add-section makes', () => {
    const dir = temp();
    const run = (cmd: string, args: string[]): void => void execFileSync(cmd, args, { cwd: dir, stdio: 'pipe' });
    writeFileSync(join(dir, 'main.c'), '#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n');
    writeFileSync(join(dir, 'm.json'), MANIFEST);
    writeFileSync(join(dir, 'm.o'), renderManifestObject(MANIFEST, 'posix-x86_64'));
    run('cc', ['-c', '-O2', '-fno-ident', '-o', 'main.o', 'main.c']);
    run('cc', ['-Wl,--build-id=none', '-o', 'linked', 'main.o']);
    run('objcopy', ['--add-section', `${MANIFEST_SECTION}=m.json`, '--set-section-flags', `${MANIFEST_SECTION}=noload,readonly`, 'linked', 'by-objcopy']);
    run('cc', ['-Wl,--build-id=none', '-Wl,--fatal-warnings', '-o', 'by-object', 'main.o', 'm.o']);
    expect(readFileSync(join(dir, 'by-object')).equals(readFileSync(join(dir, 'by-objcopy')))).toBe(true);
  });

  const llvm = ['clang', 'ld.lld', 'llvm-objcopy'].filter((t) => findProgram(t) === null);
  it.skipIf(llvm.length > 0)(`linked last by ld.lld with a linker script (hw-x86_64), it loads exactly what objcopy --add-section's image loads${llvm.length > 0 ? ` — skipped: ${llvm.join(', ')} not on PATH` : ''}`, () => {
    const dir = temp();
    const run = (cmd: string, args: string[]): Buffer => execFileSync(cmd, args, { cwd: dir, stdio: 'pipe' });
    writeFileSync(join(dir, 'start.c'), 'int counter = 7;\nstatic const char msg[] = "hi";\nvoid _start(void) { for (;;) counter += msg[counter & 1]; }\n');
    writeFileSync(join(dir, 'hw.ldscript'), 'ENTRY(_start)\nSECTIONS {\n  . = 0x100000;\n  .text : { *(.text*) }\n  .rodata : { *(.rodata*) }\n  .data : { *(.data*) }\n  .bss : { *(.bss*) }\n  /DISCARD/ : { *(.comment) *(.note*) }\n}\n');
    writeFileSync(join(dir, 'm.json'), MANIFEST);
    writeFileSync(join(dir, 'm.o'), renderManifestObject(MANIFEST, 'hw-x86_64'));
    run('clang', ['--target=x86_64-unknown-netbsd', '-ffreestanding', '-fno-pic', '-mno-red-zone', '-O2', '-c', '-o', 'start.o', 'start.c']);
    const ld = ['--build-id=none', '-static', '-z', 'max-page-size=0x1000', '-T', 'hw.ldscript'];
    run('ld.lld', [...ld, '-o', 'linked', 'start.o']);
    run('llvm-objcopy', ['--add-section', `${MANIFEST_SECTION}=m.json`, '--set-section-flags', `${MANIFEST_SECTION}=noload,readonly`, 'linked', 'by-objcopy']);
    run('ld.lld', [...ld, '-o', 'by-object', 'start.o', 'm.o']);
    const segments = (f: string): string => run('readelf', ['-lW', f]).toString('latin1').split('Program Headers:')[1]!;
    expect(segments('by-object')).toBe(segments('by-objcopy'));
    expect(segments('by-object')).toMatch(/LOAD/);
    expect(run('llvm-objcopy', ['-O', 'binary', 'by-object', '/dev/stdout']).equals(run('llvm-objcopy', ['-O', 'binary', 'by-objcopy', '/dev/stdout']))).toBe(true);
    for (const f of ['by-object', 'by-objcopy']) {
      const bytes = readFileSync(join(dir, f));
      const elf = parseElf(bytes, { file: f });
      const sec = elf.sections.find((s) => s.name === MANIFEST_SECTION)!;
      expect(sec.flags & 2, `${f}: ${MANIFEST_SECTION} is not allocated`).toBe(0);
      expect(bytes.subarray(sec.offset, sec.offset + sec.size).toString('utf8')).toBe(MANIFEST);
    }
  });
});
