import { readFileSync } from 'node:fs';

/** rumpkg's own version, read from the package.json above this file (sources or dist/). */
export function toolVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const p = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (p.name === 'rumpkg' && typeof p.version === 'string') return p.version;
    } catch {
      // try the next candidate
    }
  }
  return '0.0.0';
}
