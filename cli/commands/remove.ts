import type { Command } from 'commander';
import { createReporter, globalOptions } from '../output.js';
import { renderProjectResult } from './project-render.js';

/** `rumpkg remove NAME...`. */
export function register(program: Command): void {
  program
    .command('remove')
    .alias('rm')
    .description('remove components from rumpkg.json and re-lock')
    .argument('<name...>', 'components to remove (names or aliases)')
    .option('--offline', 'use only the cache')
    .action(async (names: string[], opts: { offline?: boolean }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { removeComponents } = await import('../../packager/index.js');
      renderProjectResult(g, 'remove', await removeComponents(g.cwd, names, { ...(opts.offline === true ? { offline: true } : {}), reporter: createReporter(g) }));
    });
}
