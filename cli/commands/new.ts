/**
 * `rumpkg new component NAME [--target T]... [--dir DIR] [--faction F] [--version V] [--license L]`:
 * writes a component directory (packager scaffoldComponent) that `sh build.sh`, `rumpkg
 * validate`, `rumpkg pack` and `rumpkg publish` take as written.
 */
import type { Command } from 'commander';
import { bold, globalOptions, print, printJson } from '../output.js';

export function register(program: Command): void {
  const create = program.command('new').description('create something new from a template');
  create
    .command('component')
    .description('a new component: manifest, C source registering through RUMP_COMPONENT, build.sh for the chosen targets')
    .argument('<name>', 'component name, e.g. hello or @me/hello (a bare name goes to the default scope)')
    .option('-t, --target <target...>', 'targets to build for (default: posix for this host)')
    .option('--dir <dir>', 'directory to create (default: ./NAME)')
    .option('--faction <faction>', 'dev, net, vfs or kern: the library prefix and init level', 'dev')
    .option('--version <version>', 'first version', '0.1.0')
    .option('--license <spdx>', 'SPDX licence expression', 'BSD-2-Clause')
    .action(async (name: string, opts: { target?: string[]; dir?: string; faction: string; version: string; license: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { scaffoldComponent } = await import('../../packager/index.js');
      const r = await scaffoldComponent(name, {
        cwd: g.cwd,
        ...(opts.dir === undefined ? {} : { dir: opts.dir }),
        ...(opts.target === undefined ? {} : { targets: opts.target }),
        faction: opts.faction,
        version: opts.version,
        license: opts.license,
      });
      if (g.json) {
        printJson(r);
        return;
      }
      print(`created ${bold(r.name)} (${r.lib}) in ${r.dir} for ${r.targets.join(', ')}:`);
      for (const f of r.files) print(`  ${f}`);
      if (!g.quiet) print(`next: sh ${r.dir}/build.sh && rumpkg validate ${r.dir} && rumpkg publish ${r.dir}`);
    });
}
