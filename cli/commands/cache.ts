/**
 * `rumpkg cache ls|verify|clean`: the download cache (HTTP packuments and tarballs) and the store
 * of unpacked components under `$RUMPKG_HOME`; `clean` also removes the build's object cache.
 */
import type { Command } from 'commander';
import { bold, globalOptions, print, printJson, table } from '../output.js';

export function register(program: Command): void {
  const cache = program.command('cache').description('inspect, verify or clear the download cache and the store');
  cache
    .command('ls')
    .description('list cached downloads and unpacked components')
    .action(async (_opts: unknown, cmd: Command) => {
      const g = globalOptions(cmd);
      const { listCache, resolveHome } = await import('../../registry/index.js');
      const home = resolveHome();
      const l = await listCache(home);
      if (g.json) {
        printJson({ home, ...l });
        return;
      }
      print(bold(`store (${l.store.length} component${l.store.length === 1 ? '' : 's'})`));
      if (l.store.length > 0) print(table(l.store.map((s) => [`  ${s.name}@${s.version}`, `${s.files} files`, s.integrity.slice(0, 24) + '…'])));
      print(bold(`downloads (${l.http.length})`));
      if (l.http.length > 0) print(table(l.http.map((h) => [`  ${h.url}`, `${h.size} bytes`])));
    });
  cache
    .command('verify')
    .description('re-hash every cache entry and evict damaged ones')
    .action(async (_opts: unknown, cmd: Command) => {
      const g = globalOptions(cmd);
      const { verifyCache, resolveHome } = await import('../../registry/index.js');
      const r = await verifyCache(resolveHome());
      if (g.json) printJson(r);
      else {
        print(`downloads: ${r.http.verifiedContent} verified, ${r.http.badContentCount} bad (removed), ${r.http.reclaimedCount} reclaimed`);
        print(`store: ${r.store.checked} checked, ${r.store.problems.length} damaged (evicted)`);
        for (const p of r.store.problems) print(`  ${p.name ?? p.key}${p.version === undefined ? '' : `@${p.version}`}: ${p.problem}`);
      }
      if (r.http.badContentCount > 0 || r.store.problems.length > 0) process.exitCode = 1;
    });
  cache
    .command('clean')
    .description('remove the download cache, the store and the object cache of builds')
    .action(async (_opts: unknown, cmd: Command) => {
      const g = globalOptions(cmd);
      const { cleanCache, resolveHome } = await import('../../registry/index.js');
      const r = await cleanCache(resolveHome());
      if (g.json) printJson(r);
      else print(r.removed.length === 0 ? 'nothing to clean' : `removed ${r.removed.join(', ')}`);
    });
}
