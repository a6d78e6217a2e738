/**
 * `rumpkg search WORDS... [--size N] [--offline]`: searches the configured registries over
 * names, aliases, library names, keywords and descriptions.
 */
import type { Command } from 'commander';
import { bold, createReporter, dim, globalOptions, print, printJson, table } from '../output.js';

export function register(program: Command): void {
  program
    .command('search')
    .description('search components by name, alias, library name or description')
    .argument('<words...>', 'search words')
    .option('--size <n>', 'maximum results', '20')
    .option('--offline', 'use only local registries and the cache')
    .option('--registry <url>', 'ask this registry instead of the ones config.json and rumpkg.json pin')
    .action(async (words: string[], opts: { size: string; offline?: boolean; registry?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { openRegistryClient } = await import('../../registry/index.js');
      const { client } = await openRegistryClient({ cwd: g.cwd, ...(opts.registry === undefined ? {} : { registry: opts.registry }), offline: opts.offline === true, reporter: createReporter(g) });
      const size = Math.max(1, Math.min(250, Number.parseInt(opts.size, 10) || 20));
      const hits = await client.search(words, { size });
      if (g.json) {
        printJson({ results: hits });
        return;
      }
      if (hits.length === 0) {
        print(`no components match ${words.join(' ')}`);
        return;
      }
      print(
        table(
          hits.map((h) => [
            bold(h.name),
            h.version,
            h.description,
            h.aliases.length > 0 ? dim(`aliases: ${h.aliases.join(', ')}`) : '',
          ]),
        ),
      );
    });
}
