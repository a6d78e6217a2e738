import type { Command } from 'commander';
import { bold, globalOptions, print, printJson, table } from '../output.js';

/** `rumpkg outdated`: locked versions that have newer wanted/latest versions. */
export function register(program: Command): void {
  program
    .command('outdated')
    .description('list locked components with newer versions available')
    .option('--offline', 'use only the cache')
    .action(async (opts: { offline?: boolean }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { outdatedComponents } = await import('../../packager/index.js');
      const rows = await outdatedComponents(g.cwd, opts.offline === true ? { offline: true } : {});
      if (g.json) return printJson(rows);
      if (rows.length === 0) return print('everything is up to date');
      print(table([['component', 'target', 'current', 'wanted', 'latest'].map(bold), ...rows.map((r) => [r.name, r.target, r.current, r.wanted, r.latest])]));
    });
}
