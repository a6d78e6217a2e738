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
import {
  RumpkgError,
  SHF_ALLOC,
  SHT,
  fsError,
  noManifestError,
  openFileSource,
  parseLinkerMap,
  readElfLayout,
  readEmbeddedManifest,
  type ElfLayout,
  type ImageManifest,
  type MapContribution,
} from '../../components/index.js';
import { componentSlug } from '../build/index.js';

/** sh_flags SHF_EXECINSTR: code. */
const SHF_EXECINSTR = 0x4;

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
function planSizeReport(image: { path: string; bytes: number; elf: Pick<ElfLayout, 'sections'>; manifest: ImageManifest }, map: MapContribution[]): SizeReport {
  const { elf, manifest } = image;
  const secKind = new Map<string, 'text' | 'data' | 'bss'>();
  let allocBytes = 0;
  for (const s of elf.sections) {
    if ((s.flags & SHF_ALLOC) === 0) continue;
    allocBytes += s.size;
    secKind.set(s.name, s.type === SHT.NOBITS ? 'bss' : (s.flags & SHF_EXECINSTR) !== 0 ? 'text' : 'data');
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
  const source = await openFileSource(imagePath);
  let elf: ElfLayout;
  let manifest: ImageManifest | null;
  try {
    elf = await readElfLayout(source);
    manifest = await readEmbeddedManifest(source, elf);
  } finally {
    await source.close();
  }
  if (manifest === null) throw noManifestError(imagePath);
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
    if ((s.flags & SHF_ALLOC) === 0 || s.type === SHT.NOBITS || s.name !== '.text') continue;
    const m = mapSizes.get(s.name);
    if (m !== undefined && m !== s.size) {
      throw new RumpkgError('E_BUILD', `the linker map ${mapPath} does not belong to ${imagePath} (.text is ${s.size} bytes, the map says ${m})`, {
        context: { path: mapPath, image: imagePath },
        hint: 'rebuild the image with rumpkg build',
      });
    }
  }
  return planSizeReport({ path: imagePath, bytes: elf.size, elf, manifest }, map);
}
