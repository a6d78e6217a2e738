import type { Command } from 'commander';
import { createReporter, globalOptions } from '../output.js';
import { renderProjectResult } from './project-render.js';

/** `rumpkg update [NAME...]`: re-resolve, letting NAME (or everything) move to newer versions. */
export function register(program: Command): void {
  program
    .command('update')
    .description('re-resolve allowing the named components (default: all) to move within their ranges')
    .argument('[name...]', 'components allowed to move (default: all)')
    .option('--offline', 'use only the cache')
    .action(async (names: string[], opts: { offline?: boolean }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { updateComponents } = await import('../../packager/index.js');
      renderProjectResult(g, 'update', await updateComponents(g.cwd, names, { ...(opts.offline === true ? { offline: true } : {}), reporter: createReporter(g) }));
    });
}
