/**
 * `rumpkg yank NAME@VERSION [--undo] [--reason TEXT]`: marks a published version as yanked
 * (npm's deprecate protocol with a `[yanked]` message; the bytes stay — a version is
 * immutable forever). The resolver never picks a yanked version unless a lockfile pins it.
 */
import type { Command } from 'commander';
import { createReporter, globalOptions, note, print, printJson } from '../output.js';

export function register(program: Command): void {
  program
    .command('yank')
    .description('withdraw a published version (or restore it with --undo)')
    .argument('<spec>', 'NAME@VERSION, e.g. tcpip@10.0.0')
    .option('--undo', 'restore a yanked version')
    .option('--reason <text>', 'why the version is withdrawn')
    .option('--registry <url>', 'ask this registry instead of the ones config.json and rumpkg.json pin')
    .action(async (spec: string, opts: { undo?: boolean; reason?: string; registry?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { RumpkgError } = await import('../../components/index.js');
      const semver = { valid: ((await import('semver/functions/valid.js')) as unknown as { default: typeof import('semver/functions/valid.js') }).default };
      const at = spec.lastIndexOf('@');
      const word = at > 0 ? spec.slice(0, at) : '';
      const version = at > 0 ? spec.slice(at + 1) : '';
      if (word === '' || semver.valid(version) === null) {
        throw new RumpkgError('E_USAGE', `yank needs NAME@VERSION with an exact version, got ${JSON.stringify(spec)}`, {
          hint: 'e.g. rumpkg yank tcpip@10.0.0',
        });
      }
      const { openRegistryClient, unknownComponentError } = await import('../../registry/index.js');
      const { client, config } = await openRegistryClient({ cwd: g.cwd, ...(opts.registry === undefined ? {} : { registry: opts.registry }), reporter: createReporter(g) });
      const { name, note: aliasNote } = await client.resolveName(word, { defaultScope: config.defaultScope });
      if (aliasNote !== undefined) note(g, aliasNote);
      if ((await client.versions(name)).length === 0) throw await unknownComponentError(client, word, name, { defaultScope: config.defaultScope });
      await client.yank(name, version, { undo: opts.undo === true, ...(opts.reason === undefined ? {} : { reason: opts.reason }) });
      if (g.json) printJson({ name, version, yanked: opts.undo !== true });
      else print(`${opts.undo === true ? 'restored' : 'yanked'} ${name}@${version}`);
    });
}
