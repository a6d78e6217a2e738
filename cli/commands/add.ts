import type { Command } from 'commander';
import { createReporter, globalOptions } from '../output.js';
import { renderProjectResult } from './project-render.js';

/** `rumpkg add SPEC... [--target T]`: add, resolve, lock, fetch. */
export function register(program: Command): void {
  program
    .command('add')
    .description('add components (tcpip, tcpip@^10, @rump/virtio-net) for every target, or with --target for some; resolve every target, lock and fetch')
    .argument('<spec...>', 'NAME or NAME@RANGE; bare names map to @rump and to NetBSD library aliases')
    .option('--target <target...>', 'request the components for these targets only (a target new to the project is added to it)')
    .option('--offline', 'use only the cache')
    .action(async (specs: string[], opts: { target?: string[]; offline?: boolean }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { addComponents } = await import('../../packager/index.js');
      const r = await addComponents(g.cwd, specs, {
        ...(opts.target === undefined ? {} : { targets: opts.target }),
        ...(opts.offline === true ? { offline: true } : {}),
        reporter: createReporter(g),
      });
      renderProjectResult(g, 'add', r);
    });
}
