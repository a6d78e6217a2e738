/**
 * The image manifest embedded in an image (DESIGN.md §4.4): JSON in the non-allocated ELF section
 * `.rumpkg.manifest`. The one reader of that section: run, size and audit all read it here, and
 * its contents go through the one validated image-manifest reader (documents/ parseImageManifest:
 * safe JSON → schema), so one fault gives one code everywhere — E_JSON_PARSE for bytes that are
 * not JSON, E_SCHEMA for JSON that is not an image manifest — naming the image and the section.
 */
import { errorFromProblems, parseImageManifest } from '../documents/index.js';
import { RumpkgError, type ImageManifest } from '../model/index.js';
import { openFileSource } from './byte-source.js';
import { readElfLayout, sectionHasData, type ByteSource, type ElfLayout } from './elf.js';

/** The section the build adds with objcopy and every reader looks for. */
export const MANIFEST_SECTION = '.rumpkg.manifest';

/** The manifest in `data` (the section's bytes); null when there is no section (`data` undefined). */
function embeddedManifestOf(data: Uint8Array | undefined, file: string): ImageManifest | null {
  if (data === undefined) return null;
  const label = `${file} (section ${MANIFEST_SECTION})`;
  const r = parseImageManifest(data, { file: label });
  if (r.value === undefined) throw errorFromProblems(r.errors, { file: label, kind: 'image-manifest' });
  return r.value;
}

/** The embedded manifest of the ELF file behind `source` (its layout already read), or null when absent. */
export async function readEmbeddedManifest(source: ByteSource, layout: ElfLayout): Promise<ImageManifest | null> {
  const sec = layout.sections.find((s) => s.name === MANIFEST_SECTION);
  if (sec === undefined || !sectionHasData(sec)) return null;
  return embeddedManifestOf(await source.read(sec.offset, sec.size), source.file);
}

/** E_NOT_FOUND: the image at `path` carries no manifest section. */
export function noManifestError(path: string): RumpkgError {
  return new RumpkgError('E_NOT_FOUND', `${path} has no ${MANIFEST_SECTION} section`, {
    context: { path, section: MANIFEST_SECTION },
    hint: 'the image was not built by rumpkg build (or the section was stripped)',
  });
}

/**
 * The embedded manifest of the image at `path` (E_NOT_FOUND / E_EACCES / E_ELF; E_NOT_FOUND when
 * the image has no manifest section). Reads the headers and the section only.
 */
export async function readImageManifest(path: string): Promise<ImageManifest> {
  const source = await openFileSource(path);
  try {
    const m = await readEmbeddedManifest(source, await readElfLayout(source));
    if (m === null) throw noManifestError(path);
    return m;
  } finally {
    await source.close();
  }
}
