/**
 * Linker maps — the one reader of the map every link writes (`-Map`), for size attribution:
 * one row per input section with its output section, size and input file (the build-dir path
 * `lib/<component>/<archive>(<member>)` that maps back to a component, or the member that the
 * link took from an archive linked normally, such as a platform's).
 *
 * Two dialects, one shape (`MapContribution`):
 * - GNU ld: the "Linker script and memory map" part — output section lines, input section lines
 *   ` .text  0xADDR  0xSIZE  file` (long section names put the numbers on the next line), and
 *   ` *fill*` padding.
 * - ld.lld: a header `VMA LMA Size Align Out In Symbol`, then one row per output section (text in
 *   the `Out` column), per input section (`In` column: `<file>:(<section>)`, `<internal>` for
 *   linker-made sections) and per symbol (ignored); sizes are hex; assignments skipped. lld lists
 *   no padding: gaps between inputs become `*fill*` rows.
 * Pure; hand-written because no maintained npm package parses either dialect.
 */

export interface MapContribution {
  outputSection: string;
  inputSection: string;
  size: number;
  /** Build-dir path of the input (`lib/x/libx.a(x.o)`, `obj/app0.entry.o`), absolute for host files, `*fill*` for padding. */
  file: string;
}

/** Parses the "Linker script and memory map" part of a GNU ld map file (or an ld.lld map). */
export function parseLinkerMap(text: string): MapContribution[] {
  if (isLldMap(text)) return parseLldMap(text);
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith('Linker script and memory map'));
  const out: MapContribution[] = [];
  let output = '';
  let pendingInput: string | undefined;
  for (let i = start < 0 ? 0 : start + 1; i < lines.length; i++) {
    const line = lines[i]!;
    const head = /^(\S+)(?:\s+0x[0-9a-f]+\s+0x[0-9a-f]+.*)?$/.exec(line);
    if (head !== null && !line.startsWith('LOAD ') && !line.startsWith('OUTPUT(') && line !== 'START GROUP' && line !== 'END GROUP') {
      output = head[1]!;
      pendingInput = undefined;
      continue;
    }
    const fill = /^ \*fill\*\s+0x[0-9a-f]+\s+0x([0-9a-f]+)/.exec(line);
    if (fill !== null) {
      out.push({ outputSection: output, inputSection: '*fill*', size: parseInt(fill[1]!, 16), file: '*fill*' });
      continue;
    }
    const full = /^ (\S+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S.*)$/.exec(line);
    if (full !== null && !full[1]!.startsWith('*')) {
      out.push({ outputSection: output, inputSection: full[1]!, size: parseInt(full[2]!, 16), file: full[3]!.trim() });
      pendingInput = undefined;
      continue;
    }
    const nameOnly = /^ (\.?[^\s*]\S*)$/.exec(line);
    if (nameOnly !== null) {
      pendingInput = nameOnly[1]!;
      continue;
    }
    const cont = /^\s{2,}0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S.*)$/.exec(line);
    if (cont !== null && pendingInput !== undefined) {
      out.push({ outputSection: output, inputSection: pendingInput, size: parseInt(cont[1]!, 16), file: cont[2]!.trim() });
      pendingInput = undefined;
    }
  }
  return out;
}

/** Whether a linker map is lld's (its first line is the column header). */
function isLldMap(text: string): boolean {
  return /^\s*VMA\s+LMA\s+Size\s+Align\s+Out\s+In\s+Symbol\s*$/.test(text.slice(0, text.indexOf('\n') >>> 0));
}

function parseLldMap(text: string): MapContribution[] {
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
