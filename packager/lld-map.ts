/**
 * The linker map of `ld.lld -Map` (freestanding hw images), in the same shape as GNU ld's
 * (size.ts `MapContribution`), so `rumpkg size` attributes hw images like posix ones.
 *
 * Format: a header `VMA LMA Size Align Out In Symbol`, then one row per output section (text
 * in the `Out` column), per input section (`In` column: `<file>:(<section>)`, where file is a
 * build-dir path such as `lib/rump+pci/librumpdev_pci.a(pcibus.o)` or `<internal>` for
 * linker-made sections) and per symbol (ignored); sizes are hex. Assignments (`. = …`) are
 * skipped. Pure.
 */
import type { MapContribution } from './size.js';

/** Whether a linker map is lld's (its first line is the column header). */
export function isLldMap(text: string): boolean {
  return /^\s*VMA\s+LMA\s+Size\s+Align\s+Out\s+In\s+Symbol\s*$/.test(text.slice(0, text.indexOf('\n') >>> 0));
}

export function parseLldMap(text: string): MapContribution[] {
  const lines = text.split('\n');
  const header = lines[0] ?? '';
  const outCol = header.indexOf('Out');
  const inCol = header.indexOf('In ');
  const out: MapContribution[] = [];
  let output = '';
  let sectionEnd = 0;
  let cursor = 0; // end of the last input section of the current output section
  // lld lists no padding: the gaps between inputs (and up to the section's end) become *fill*.
  const fill = (to: number): void => {
    if (output !== '' && to > cursor) out.push({ outputSection: output, inputSection: '*fill*', size: to - cursor, file: '*fill*' });
    cursor = Math.max(cursor, to);
  };
  for (const line of lines.slice(1)) {
    const m = /^\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+ /.exec(line);
    if (m === null) continue;
    const vma = parseInt(m[1]!, 16);
    const size = parseInt(m[2]!, 16);
    const col = line.length - line.slice(m[0].length).trimStart().length;
    const rest = line.slice(col).trimEnd();
    if (col <= outCol) {
      if (rest.includes(' = ')) continue; // an assignment
      fill(sectionEnd);
      output = rest;
      cursor = vma;
      sectionEnd = vma + size;
      continue;
    }
    if (col > inCol) continue; // a symbol
    const s = /^(.*):\(([^)]*)\)$/.exec(rest);
    if (s === null) continue;
    if (vma > cursor) fill(vma);
    out.push({ outputSection: output, inputSection: s[2]!, size, file: s[1]! });
    cursor = Math.max(cursor, vma + size);
  }
  fill(sectionEnd);
  return out;
}
