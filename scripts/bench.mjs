// `npm run bench`: runs every bench/*.mjs in name order against the compiled dist/ and the
// real peer tools, printing each file's report. A file may be given to run only that one.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const only = process.argv.slice(2);
const files = readdirSync('bench').filter((f) => f.endsWith('.mjs')).sort()
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)));
let failed = 0;
for (const f of files) {
  process.stdout.write(`\n## ${f}\n`);
  // A missing peer tool or toolchain ends a bench with what to install, not a stack trace.
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', './bench/lib/tool-errors.mjs', join('bench', f)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exitCode = failed === 0 ? 0 : 1;
