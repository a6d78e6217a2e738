/**
 * `rumpkg size IMAGE`: attributes the image's allocated bytes to components, the glue, the
 * application and the host runtime (crt, libc stubs, linker-generated sections).
 *
 * Source of truth: the linker map the build writes next to the image (`<image>.map`, from
 * `-Wl,-Map=image.map` in the link plan). Every input section is listed there with its size and
 * the build-dir path of its input file (`lib/<component>/<archive>(<member>)`), which maps back to
 * the component through the image's embedded manifest. The image's own section headers say
 * which output sections are allocated and whether they are code, data or bss; bytes of allocated
 * sections no input section explains (alignment, headers) are reported as unattributed.
 * `parseLinkerMap` and `planSizeReport` are pure; `readSizeReport` does the reading.
 */
import { readFile } from 'node:fs/promises';
import { RumpkgError, fsError, type ImageManifest } from '../components/index.js';
import { parseElf, SHF_ALLOC, SHT_NOBITS, type ElfFile } from './elf-file.js';
import { parseImageManifest } from './image-manifest.js';
import { componentSlug } from './link-plan.js';
import { isLldMap, parseLldMap } from './lld-map.js';

export interface MapContribution {
  outputSection: string;
  inputSection: string;
  size: number;
  /** Build-dir path of the input (`lib/x/libx.a(x.o)`, `obj/app0.entry.o`), absolute for host files, `*fill*` for padding. */
  file: string;
}

/** Parses the "Linker script and memory map" part of a GNU ld map file (or an ld.lld map). */
export function parseLinkerMap(text: string): MapContribution[] {
  if (isLldMap(text)) return parseLldMap(text); // ld.lld (hw targets): lld-map.ts
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

export type SizeOwnerKind = 'component' | 'platform' | 'glue' | 'app' | 'runtime';

export interface SizeRow {
  owner: string;
  kind: SizeOwnerKind;
  text: number;
  data: number;
  bss: number;
  total: number;
}

export interface SizeReport {
  image: string;
  target: string;
  fileBytes: number;
  /** Sum of the allocated sections (what the image occupies in memory). */
  allocBytes: number;
  /** Biggest first; components in link order when equal. */
  rows: SizeRow[];
  /** Padding and bytes of allocated sections that no input section explains. */
  unattributed: number;
}

/** Combines a parsed image, its manifest and its linker map into a size report. Pure. */
export function planSizeReport(image: { path: string; bytes: number; elf: ElfFile; manifest: ImageManifest }, map: MapContribution[]): SizeReport {
  const { elf, manifest } = image;
  const secKind = new Map<string, 'text' | 'data' | 'bss'>();
  let allocBytes = 0;
  for (const s of elf.sections) {
    if ((s.flags & SHF_ALLOC) === 0n) continue;
    allocBytes += s.size;
    secKind.set(s.name, s.type === SHT_NOBITS ? 'bss' : (s.flags & 4n) !== 0n ? 'text' : 'data');
  }
  const slugs = new Map<string, { name: string; kind: 'component' | 'platform' }>();
  for (const c of manifest.components) slugs.set(componentSlug(c.name), { name: c.name, kind: c.kind === 'platform' ? 'platform' : 'component' });
  const rows = new Map<string, SizeRow>();
  const row = (owner: string, kind: SizeOwnerKind): SizeRow => {
    let r = rows.get(owner);
    if (r === undefined) rows.set(owner, (r = { owner, kind, text: 0, data: 0, bss: 0, total: 0 }));
    return r;
  };
  let attributed = 0;
  for (const c of map) {
    const k = secKind.get(c.outputSection);
    if (k === undefined || c.size === 0 || c.file === '*fill*') continue;
    let r: SizeRow;
    const lib = /^lib\/([^/]+)\//.exec(c.file);
    if (lib !== null) {
      const owner = slugs.get(lib[1]!);
      r = row(owner?.name ?? lib[1]!, owner?.kind ?? 'component');
    } else if (c.file.startsWith('obj/rumpkg_main')) r = row('glue', 'glue');
    else if (c.file.startsWith('obj/')) r = row('app', 'app');
    else r = row('runtime', 'runtime');
    r[k] += c.size;
    r.total += c.size;
    attributed += c.size;
  }
  const order = new Map(manifest.linkOrder.map((n, i) => [n, i]));
  const sorted = [...rows.values()].sort((a, b) => b.total - a.total || (order.get(a.owner) ?? 1e9) - (order.get(b.owner) ?? 1e9) || a.owner.localeCompare(b.owner));
  // Components that contributed nothing still get a row: a 0 says "linked, but empty".
  for (const c of manifest.components) if (!rows.has(c.name)) sorted.push({ owner: c.name, kind: c.kind === 'platform' ? 'platform' : 'component', text: 0, data: 0, bss: 0, total: 0 });
  return { image: image.path, target: manifest.target, fileBytes: image.bytes, allocBytes, rows: sorted, unattributed: Math.max(0, allocBytes - attributed) };
}

/** Reads `imagePath` and `<imagePath>.map` (or `options.map`) and attributes the image's bytes. */
export async function readSizeReport(imagePath: string, options: { map?: string } = {}): Promise<SizeReport> {
  let buf: Buffer;
  try {
    buf = await readFile(imagePath);
  } catch (e) {
    throw fsError(e, imagePath, 'read image');
  }
  const elf = parseElf(buf, imagePath);
  const manifest = parseImageManifest(buf, imagePath);
  const mapPath = options.map ?? `${imagePath}.map`;
  let text: string;
  try {
    text = await readFile(mapPath, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new RumpkgError('E_NOT_FOUND', `no linker map for ${imagePath} (expected ${mapPath})`, {
        context: { path: mapPath, image: imagePath },
        hint: 'rumpkg build writes it next to the image; rebuild the image',
      });
    }
    throw fsError(e, mapPath, 'read linker map');
  }
  const map = parseLinkerMap(text);
  // The map must describe this very image: the sizes of its allocated output sections must match.
  const mapSizes = new Map<string, number>();
  for (const c of map) mapSizes.set(c.outputSection, (mapSizes.get(c.outputSection) ?? 0) + c.size);
  for (const s of elf.sections) {
    if ((s.flags & SHF_ALLOC) === 0n || s.type === SHT_NOBITS || s.name !== '.text') continue;
    const m = mapSizes.get(s.name);
    if (m !== undefined && m !== s.size) {
      throw new RumpkgError('E_BUILD', `the linker map ${mapPath} does not belong to ${imagePath} (.text is ${s.size} bytes, the map says ${m})`, {
        context: { path: mapPath, image: imagePath },
        hint: 'rebuild the image with rumpkg build',
      });
    }
  }
  return planSizeReport({ path: imagePath, bytes: buf.length, elf, manifest }, map);
}
