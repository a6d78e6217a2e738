import { readFileSync } from 'node:fs';

/**
 * rumpkg's own version for `--version`, read without loading any library module so the
 * command answers fast (components/version.ts is the same for library code).
 */
export function cliVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const p = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (p.name === 'rumpkg' && typeof p.version === 'string') return p.version;
    } catch {
      // try the next candidate
    }
  }
  return '0.0.0';
}
