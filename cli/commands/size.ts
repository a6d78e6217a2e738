/**
 * `rumpkg size IMAGE [--map FILE]`: the bytes each component (and the glue, the application and
 * the host runtime) contributes to an image, from the linker map the build leaves next to it.
 */
import { isAbsolute, join } from 'node:path';
import type { Command } from 'commander';
import { globalOptions, print, printJson, table, bold } from '../output.js';

export function register(program: Command): void {
  program
    .command('size')
    .description('bytes contributed by each component to an image')
    .argument('<image>', 'an image built by rumpkg build')
    .option('--map <file>', 'the linker map (default: IMAGE.map)')
    .action(async (imageArg: string, opts: { map?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { readSizeReport } = await import('../../packager/index.js');
      const abs = (p: string): string => (isAbsolute(p) ? p : join(g.cwd, p));
      const r = await readSizeReport(abs(imageArg), opts.map === undefined ? {} : { map: abs(opts.map) });
      if (g.json) {
        printJson(r);
        return;
      }
      const pct = (n: number): string => (r.allocBytes === 0 ? '-' : `${((100 * n) / r.allocBytes).toFixed(1)}%`);
      const rows = [['owner', 'kind', 'text', 'data', 'bss', 'total', 'share'].map(bold)];
      for (const x of r.rows) rows.push([x.owner, x.kind, String(x.text), String(x.data), String(x.bss), String(x.total), pct(x.total)]);
      rows.push(['(unattributed)', '', '', '', '', String(r.unattributed), pct(r.unattributed)]);
      print(`${r.image} (${r.target}): ${r.allocBytes} bytes allocated, ${r.fileBytes} bytes on disk`);
      print(table(rows));
    });
}
