// The ~100 MB ELF image bench/elf.mjs and bench/audit.mjs measure: many global functions and
// data objects, a link_set_rump_components section and a large initialised array to reach the
// size; generated once with cc and cached in the temp directory.
// Env: BENCH_ELF_SYMBOLS (default 300000 functions + 100000 data objects), BENCH_ELF_MB (100).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

export function bigElfImage() {
  const nfunc = Number(process.env.BENCH_ELF_SYMBOLS ?? 300_000);
  const ndata = Math.floor(nfunc / 3);
  const mb = Number(process.env.BENCH_ELF_MB ?? 100);
  const dir = join(tmpdir(), `rumpkg-bench-elf-${nfunc}-${mb}`);
  const image = join(dir, 'image');
  if (!existsSync(image)) {
    const t0 = performance.now();
    mkdirSync(dir, { recursive: true });
    const parts = ['\t.text'];
    for (let i = 0; i < nfunc; i++) {
      parts.push(`\t.globl rumpns_fn_${i}\n\t.type rumpns_fn_${i},@function\nrumpns_fn_${i}:\n\tret\n\t.size rumpns_fn_${i},1`);
      if (i % 4 === 0) parts.push(`local_fn_${i}:\n\tret`);
    }
    parts.push('\t.data');
    for (let i = 0; i < ndata; i++) parts.push(`\t.globl rumpns_obj_${i}\n\t.type rumpns_obj_${i},@object\nrumpns_obj_${i}:\n\t.quad ${i}\n\t.size rumpns_obj_${i},8`);
    parts.push('\t.section .rodata\ncomp0:\n\t.long 7\n\t.quad 0\ncomp1:\n\t.long 2\n\t.quad 0');
    parts.push('\t.section link_set_rump_components,"aw"\n\t.quad comp0\n\t.quad comp1');
    parts.push(`\t.data\n\t.globl big_array\nbig_array:\n\t.byte 1\n\t.zero ${mb * 1_000_000}`);
    parts.push('\t.text\n\t.globl main\nmain:\n\txor %eax,%eax\n\tret\n\t.section .note.GNU-stack,"",@progbits\n');
    writeFileSync(join(dir, 'image.s'), parts.join('\n'));
    execFileSync('cc', ['-no-pie', join(dir, 'image.s'), '-o', image], { stdio: 'inherit' });
    process.stdout.write(`generated ${image} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  return { image, size: statSync(image).size, nfunc, ndata, mb };
}
