// Builds the miniature corpus (scripts/corpus/) with the real compilers:
//   node scripts/corpus.mjs DIR [--target T]... [--version V]... [--jobs N]
//       builds into DIR;
//   node scripts/corpus.mjs --cached [--target T]... [--version V]... [--jobs N]
//       prints the root of the cached corpus for these targets and versions, building it first
//       when the cache (<tmpdir>/rumpkg-corpus/<fingerprint>, shared with the tests) lacks it.
// Progress goes to stderr. A missing compiler is a message naming the package to install, never
// a stack trace. Needs `npm run build` first (it imports dist/).
import { existsSync } from 'node:fs';

const dist = new URL('../dist/scripts/corpus/index.js', import.meta.url);
if (!existsSync(dist)) {
  process.stderr.write('corpus: dist/ is missing; run `npm run build` first\n');
  process.exit(1);
}
const { buildCorpus, cachedCorpus } = await import(dist.href);

const args = process.argv.slice(2);
const VALUED = ['--target', '--version', '--jobs'];
const cached = args.includes('--cached');
const out = args.find((a, i) => !a.startsWith('--') && !VALUED.includes(args[i - 1] ?? ''));
const unknown = args.filter((a, i) => a.startsWith('--') && a !== '--cached' && !VALUED.includes(a) && !VALUED.includes(args[i - 1] ?? ''));
if ((out === undefined) === !cached || unknown.length > 0) {
  process.stderr.write('usage: node scripts/corpus.mjs DIR | --cached  [--target T]... [--version V]... [--jobs N]\n');
  process.exit(2);
}
const pick = (flag) => args.flatMap((a, i) => (args[i - 1] === flag ? [a] : []));
const targets = pick('--target');
const versions = pick('--version');
const jobs = pick('--jobs').map(Number).at(-1);
const options = {
  ...(targets.length > 0 ? { targets } : {}),
  ...(versions.length > 0 ? { versions } : {}),
  ...(jobs !== undefined && Number.isInteger(jobs) && jobs > 0 ? { jobs } : {}),
  onEvent: (e) => {
    if (e.type === 'version-done') process.stderr.write(`  corpus ${e.version}: done after ${(e.ms / 1000).toFixed(1)} s\n`);
  },
};
const summary = (r) => `${r.components} component directories (${r.archives} archives) for ${r.targets.join(', ')}`;

try {
  if (cached) {
    const c = await cachedCorpus(options);
    process.stderr.write(c.built ? `built ${summary(c.info)} in ${(c.info.ms / 1000).toFixed(1)} s into the cache\n` : `cached: ${summary(c.info)} (${c.root})\n`);
    process.stdout.write(`${c.root}\n`);
  } else {
    const r = await buildCorpus(out, options);
    process.stdout.write(`built ${summary(r)} in ${(r.ms / 1000).toFixed(1)} s\n`);
  }
} catch (e) {
  // Typed errors (a missing compiler: E_TOOLCHAIN with the package to install) are messages.
  if (e !== null && typeof e === 'object' && typeof e.code === 'string' && e.code.startsWith('E_')) {
    process.stderr.write(`corpus: error[${e.code}]: ${e.message}\n`);
    if (typeof e.hint === 'string') process.stderr.write(`  hint: ${e.hint}\n`);
    process.exit(1);
  }
  throw e;
}
