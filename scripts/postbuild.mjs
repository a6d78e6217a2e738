// Copies the non-TypeScript assets of each module (C templates, linker scripts, catalog data)
// next to the compiled JavaScript, so `new URL('./x.c', import.meta.url)` works from both the
// sources (vitest) and dist/ (the installed binary).
import { cpSync, readdirSync, statSync, chmodSync } from 'node:fs';
import { join, extname } from 'node:path';

const modules = ['schemas', 'components', 'resolver', 'registry', 'packager', 'cli'];
const skip = new Set(['.ts', '.md']);

function copyAssets(src, dst) {
  for (const entry of readdirSync(src)) {
    const from = join(src, entry);
    const to = join(dst, entry);
    if (statSync(from).isDirectory()) copyAssets(from, to);
    else if (!skip.has(extname(entry))) cpSync(from, to);
  }
}
for (const m of modules) copyAssets(m, join('dist', m));
// The miniature corpus generator (a test and demo fixture, not part of the CLI) and its C sources.
copyAssets('scripts/corpus', join('dist', 'scripts', 'corpus'));
chmodSync('dist/cli/bin.js', 0o755);
