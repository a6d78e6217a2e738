import type { Command } from 'commander';
import { globalOptions, print, printJson } from '../output.js';

/** `rumpkg init [--name N] [--target T]...`: create rumpkg.json. */
export function register(program: Command): void {
  program
    .command('init')
    .description('create rumpkg.json in the current directory')
    .option('--name <name>', 'project name (default: the directory name)')
    .option('--target <target...>', 'target(s) to build for, e.g. posix-x86_64 hw-x86_64')
    .option('--registry <url>', 'registry for the default scope @rump (default: the embedded file registry)')
    .action(async (opts: { name?: string; target?: string[]; registry?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { initProject } = await import('../../packager/index.js');
      const m = await initProject(g.cwd, {
        ...(opts.name === undefined ? {} : { name: opts.name }),
        ...(opts.target === undefined ? {} : { targets: opts.target }),
        ...(opts.registry === undefined ? {} : { registries: { '@rump': opts.registry } }),
      });
      if (g.json) printJson(m);
      else print(`created rumpkg.json for ${m.name} (targets: ${m.targets.join(', ')})`);
    });
}
