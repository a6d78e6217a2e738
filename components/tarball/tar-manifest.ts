/**
 * The seam between tarballs and manifests (./manifest.ts): packing validates `dir/package.json`
 * against the files that will really be packed; reading a tarball validates
 * `package/package.json` against the files the tarball really holds. Both refuse an invalid
 * manifest with every problem listed (E_JSON_PARSE / E_SCHEMA / E_MANIFEST).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RumpkgError, fsError } from '../model/index.js';
import { parseJsonDocument } from '../documents/index.js';
import { MANIFEST_MAX_BYTES, errorFromProblems, validateComponentManifest } from '../documents/index.js';
import type { ComponentManifest } from '../model/index.js';

/** The largest package.json accepted inside a tarball or a component directory. */
export const MAX_MANIFEST_BYTES = MANIFEST_MAX_BYTES;

/**
 * Parses and checks a manifest text; `files` are the package-relative files that exist.
 * Returns the normalised manifest and the document exactly as parsed (for IN-04 comparisons).
 */
export function parseManifestText(text: string, options: { file: string; files: readonly string[] }): { manifest: ComponentManifest; packageJson: unknown } {
  const doc = parseJsonDocument(text, { file: options.file, maxBytes: MAX_MANIFEST_BYTES });
  const packageJson = structuredClone(doc);
  const r = validateComponentManifest(doc, { file: options.file, files: options.files });
  if (r.value === undefined) throw errorFromProblems(r.errors, { file: options.file, kind: 'component-manifest' });
  return { manifest: r.value, packageJson };
}

/** Reads `dir/package.json` and checks it against `files` (what will be packed). */
export async function loadManifestForPack(dir: string, files: readonly string[]): Promise<ComponentManifest> {
  const file = join(dir, 'package.json');
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new RumpkgError('E_NOT_FOUND', `${dir} is not a component directory: ${file} does not exist`, {
        context: { path: file },
        hint: 'a component directory holds a package.json with a "rump" section',
      });
    }
    throw fsError(e, file, 'read');
  }
  return parseManifestText(bytes.toString('utf8'), { file, files }).manifest;
}
