import type { Command } from 'commander';
import { bold, globalOptions, print, printJson } from '../output.js';

/**
 * `rumpkg why NAME [--target T]`: every chain from the project to NAME, then what the chains do
 * not say — requests for one target only, which member of an any-of group was chosen and why,
 * and which platform package serves each target, with its convention (all from the lockfile).
 */
export function register(program: Command): void {
  program
    .command('why')
    .description('show every chain of dependencies from the project to a component')
    .argument('<name>', 'a locked component (name or alias)')
    .option('--target <target>', 'which target (default: every locked target)')
    .action(async (word: string, opts: { target?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { readLock, planWhy, planWhyReasons, lockedNameFor, readPlatformInfo, renderPlatformInfo, storeComponentDirResolver } = await import('../../packager/index.js');
      const { RumpkgError } = await import('../../components/index.js');
      const lock = await readLock(g.cwd);
      if (lock === undefined) throw new RumpkgError('E_NOT_FOUND', 'there is no rumpkg.lock', { hint: 'run rumpkg install' });
      const name = lockedNameFor(lock, word);
      const targets = opts.target !== undefined ? [opts.target] : Object.keys(lock.targets).sort().filter((t) => lock.targets[t]?.components[name] !== undefined);
      if (targets.length === 0) throw new RumpkgError('E_NOT_FOUND', `${name} is in no locked closure`, { context: { component: name } });
      const result = Object.fromEntries(targets.map((t) => [t, planWhy(lock, t, name)]));
      const reasons = Object.fromEntries(targets.map((t) => [t, planWhyReasons(lock, t, name)]));
      const store = await storeComponentDirResolver(g.cwd);
      const platforms = Object.fromEntries(
        targets.map((t) => {
          const lt = lock.targets[t]!;
          const p = lt.platform;
          return [t, p === null ? null : readPlatformInfo(lt, t, lt.components[p] === undefined ? undefined : store.lookup(p, lt.components[p]))];
        }),
      );
      if (g.json) return printJson({ component: name, chains: result, reasons, platforms });
      for (const t of targets) {
        print(bold(`${name} (${t})`));
        for (const chain of result[t] ?? []) print(`  ${chain.join(' → ')}`);
        for (const line of reasons[t] ?? []) print(`  ${line}`);
        const p = platforms[t];
        if (p !== null && p !== undefined) print(`  ${t} is served by platform ${renderPlatformInfo(p)}`);
      }
    });
}
