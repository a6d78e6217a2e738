import type { Command } from 'commander';
import { createReporter, globalOptions } from '../output.js';
import { launcherFiles } from '../self.js';
import { renderProjectResult } from './project-render.js';

/**
 * `rumpkg install [--frozen] [--offline]`: make the store match the lockfile (resolve if allowed).
 * An install with nothing to do that printed nothing but its answer leaves the memo from which the
 * launcher answers the next identical install while nothing it depended on has changed
 * (packager/early, replayNoop).
 */
export function register(program: Command): void {
  program
    .command('install')
    .alias('i')
    .description('fetch the locked components; resolve and lock first when rumpkg.lock does not satisfy rumpkg.json')
    .option('--frozen', 'refuse a lockfile that does not satisfy rumpkg.json; never write it')
    .option('--offline', 'use only the cache; say what is missing')
    .action(async (opts: { frozen?: boolean; offline?: boolean }, cmd: Command) => {
      const startedAt = Date.now();
      const g = globalOptions(cmd);
      const { installProject, recordNoop } = await import('../../packager/index.js');
      let depended: string[] | undefined;
      const r = await installProject(g.cwd, {
        ...(opts.frozen === true ? { frozen: true } : {}),
        ...(opts.offline === true ? { offline: true } : {}),
        reporter: createReporter(g),
        depended: (paths) => (depended = paths),
      });
      const text = renderProjectResult(g, 'install', r);
      // Nothing to do, nothing but the answer printed: the next identical install may be answered by the launcher.
      if (depended !== undefined && !g.verbose && r.notes.length === 0) {
        recordNoop({ command: 'install', argv: process.argv.slice(2), env: process.env, cwd: process.cwd(), tty: process.stdout.isTTY === true, startedAt, checked: { paths: depended, tools: [] }, self: launcherFiles('rumpkg-early-noop.cjs'), stdout: text });
      }
    });
}
