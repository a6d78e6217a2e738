// Builds the miniature corpus (scripts/corpus/) into DIR with the real compilers:
//   node scripts/corpus.mjs DIR [--target T]... [--version V]...
// Needs `npm run build` first (it imports dist/).
import { buildCorpus } from '../dist/scripts/corpus/index.js';

const args = process.argv.slice(2);
const out = args.find((a, i) => !a.startsWith('--') && !['--target', '--version'].includes(args[i - 1] ?? ''));
if (out === undefined) {
  process.stderr.write('usage: node scripts/corpus.mjs DIR [--target T]... [--version V]...\n');
  process.exit(2);
}
const pick = (flag) => args.flatMap((a, i) => (args[i - 1] === flag ? [a] : []));
const targets = pick('--target');
const versions = pick('--version');
const r = await buildCorpus(out, {
  ...(targets.length > 0 ? { targets } : {}),
  ...(versions.length > 0 ? { versions } : {}),
  onEvent: (e) => {
    if (e.type === 'version-done') process.stderr.write(`  corpus ${e.version}: ${e.ms} ms\n`);
  },
});
process.stdout.write(`built ${r.components} component directories (${r.archives} archives) for ${r.targets.join(', ')} in ${(r.ms / 1000).toFixed(1)} s\n`);
