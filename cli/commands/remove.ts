import type { Command } from 'commander';
import { createReporter, globalOptions } from '../output.js';
import { renderProjectResult } from './project-render.js';

/** `rumpkg remove NAME... [--target T]`. */
export function register(program: Command): void {
  program
    .command('remove')
    .alias('rm')
    .description('remove components from rumpkg.json and re-lock')
    .argument('<name...>', 'components to remove (names or aliases)')
    .option('--target <target...>', 'remove them for these targets only (a component requested for every target stays for the others)')
    .option('--offline', 'use only the cache')
    .action(async (names: string[], opts: { target?: string[]; offline?: boolean }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { removeComponents } = await import('../../packager/index.js');
      const r = await removeComponents(g.cwd, names, {
        ...(opts.target === undefined ? {} : { targets: opts.target }),
        ...(opts.offline === true ? { offline: true } : {}),
        reporter: createReporter(g),
      });
      renderProjectResult(g, 'remove', r);
    });
}
