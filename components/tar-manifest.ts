/**
 * The seam between tarballs and manifests: packing loads and validates `dir/package.json`
 * first; reading a tarball validates `package/package.json` against the files the tarball
 * really holds. Both refuse an invalid manifest with every problem listed.
 *
 * TODO(manifest): components/manifest.ts (loadComponentDir / parseComponentManifest /
 * checkManifest) is being written in parallel; until it lands this file applies a minimal
 * structural check. Replace the bodies below with calls into './manifest.js'.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RumpkgError, fsError } from './errors.js';
import type { ComponentManifest } from './types.js';

/** The largest package.json accepted inside a tarball or a component directory. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;

interface Problem {
  pointer: string;
  message: string;
}

function refuse(file: string, problems: Problem[]): never {
  const lines = problems.map((p) => `${file}: ${p.pointer || '/'}: ${p.message}`);
  throw new RumpkgError('E_MANIFEST', `invalid component manifest ${file}:\n  ${lines.join('\n  ')}`, {
    context: { file, problems },
    hint: 'fix the manifest (rumpkg validate FILE shows every problem) and try again',
  });
}

/** Parses and checks a manifest text; `files` are the package-relative files that exist. */
export function parseManifestText(text: string, options: { file: string; files: readonly string[] }): { manifest: ComponentManifest; packageJson: unknown } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new RumpkgError('E_JSON_PARSE', `${options.file}: not valid JSON (${(e as Error).message})`, {
      context: { file: options.file },
      cause: e,
    });
  }
  const problems: Problem[] = [];
  const o = doc as Record<string, unknown> | null;
  if (o === null || typeof o !== 'object' || Array.isArray(o)) refuse(options.file, [{ pointer: '', message: 'must be an object' }]);
  for (const k of ['name', 'version', 'license'] as const) {
    if (typeof o[k] !== 'string') problems.push({ pointer: `/${k}`, message: 'must be a string' });
  }
  const rump = o.rump as Record<string, unknown> | undefined;
  if (rump === null || typeof rump !== 'object') problems.push({ pointer: '/rump', message: 'must be an object' });
  else {
    const targets = rump.targets as Record<string, { archive?: unknown }> | undefined;
    if (targets === null || typeof targets !== 'object') problems.push({ pointer: '/rump/targets', message: 'must be an object' });
    else {
      const have = new Set(options.files);
      for (const [t, e] of Object.entries(targets)) {
        if (typeof e?.archive !== 'string') problems.push({ pointer: `/rump/targets/${t}/archive`, message: 'must be a string' });
        else if (!have.has(e.archive)) problems.push({ pointer: `/rump/targets/${t}/archive`, message: `${e.archive} is not in the package` });
      }
    }
  }
  if (problems.length > 0) refuse(options.file, problems);
  return { manifest: o as unknown as ComponentManifest, packageJson: doc };
}

/** Reads `dir/package.json` and checks it against the files found in `dir`. */
export async function loadManifestForPack(dir: string, files: readonly string[]): Promise<ComponentManifest> {
  const file = join(dir, 'package.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw fsError(e, file, 'read');
  }
  if (Buffer.byteLength(text) > MAX_MANIFEST_BYTES) {
    throw new RumpkgError('E_MANIFEST', `${file} is larger than ${MAX_MANIFEST_BYTES} bytes`, { context: { file } });
  }
  return parseManifestText(text, { file, files }).manifest;
}
