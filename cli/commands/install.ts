import type { Command } from 'commander';
import { createReporter, globalOptions } from '../output.js';
import { renderProjectResult } from './project-render.js';

/** `rumpkg install [--frozen] [--offline]`: make the store match the lockfile (resolve if allowed). */
export function register(program: Command): void {
  program
    .command('install')
    .alias('i')
    .description('fetch the locked components; resolve and lock first when rumpkg.lock does not satisfy rumpkg.json')
    .option('--frozen', 'refuse a lockfile that does not satisfy rumpkg.json; never write it')
    .option('--offline', 'use only the cache; say what is missing')
    .action(async (opts: { frozen?: boolean; offline?: boolean }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { installProject } = await import('../../packager/index.js');
      const r = await installProject(g.cwd, {
        ...(opts.frozen === true ? { frozen: true } : {}),
        ...(opts.offline === true ? { offline: true } : {}),
        reporter: createReporter(g),
      });
      renderProjectResult(g, 'install', r);
    });
}
