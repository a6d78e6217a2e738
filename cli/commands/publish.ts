/**
 * `rumpkg publish DIR... | FILE.tgz... [--registry URL] [--tag T]`: validates and packs
 * directories (tarballs are validated by the client before upload), then publishes each to the
 * registry of its scope (or `--registry`), several at once with bounded concurrency. Prints one
 * `+ @rump/tcpip@10.0.0` line per success; `--json` prints `{published: [...], failed: [...]}`.
 * If anything failed the command fails with the first error's code after reporting all.
 */
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { createReporter, globalOptions, green, print, printJson } from '../output.js';

export function register(program: Command): void {
  program
    .command('publish')
    .description('validate, pack and publish component directories or tarballs')
    .argument('<paths...>', 'component directories or .tgz files')
    .option('--registry <url>', 'publish to this registry instead of the one pinned to the scope')
    .option('--tag <tag>', 'dist-tag to set', 'latest')
    .option('--concurrency <n>', 'publishes in flight at once', '8')
    .action(async (paths: string[], opts: { registry?: string; tag: string; concurrency: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { RumpkgError, isRumpkgError, packComponent, fsError } = await import('../../components/index.js');
      const { openRegistryClient, normalizeRegistryUrl } = await import('../../registry/index.js');
      const reporter = createReporter(g);
      const { client } = await openRegistryClient({ cwd: g.cwd, reporter });
      const registry = opts.registry === undefined ? undefined : normalizeRegistryUrl(opts.registry, { base: g.cwd });
      const limit = Math.max(1, Math.min(64, Number.parseInt(opts.concurrency, 10) || 8));

      const published: Array<{ path: string; name: string; version: string; integrity: string; tag: string }> = [];
      const failed: Array<{ path: string; error: InstanceType<typeof RumpkgError> }> = [];
      const queue = paths.map((p) => resolve(g.cwd, p));
      let done = 0;
      const one = async (path: string): Promise<void> => {
        try {
          let st;
          try {
            st = await stat(path);
          } catch (e) {
            throw fsError(e, path, 'read');
          }
          const data = st.isDirectory() ? (await packComponent(path)).data : await readFile(path);
          const r = await client.publish(data, { tag: opts.tag, ...(registry === undefined ? {} : { registry }) });
          published.push({ path, name: r.name, version: r.version, integrity: r.integrity, tag: r.tag });
          if (!g.json && !g.quiet) print(`${green('+')} ${r.name}@${r.version}`);
        } catch (e) {
          if (!isRumpkgError(e)) throw e;
          failed.push({ path, error: e });
          if (!g.json && paths.length > 1) process.stderr.write(`rumpkg: error[${e.code}]: ${path}: ${e.message}\n`);
        } finally {
          reporter.progress('publishing', ++done, paths.length);
        }
      };
      const workers = Array.from({ length: Math.min(limit, queue.length) }, async () => {
        for (let p = queue.shift(); p !== undefined; p = queue.shift()) await one(p);
      });
      await Promise.all(workers);
      published.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.version < b.version ? -1 : 1));
      if (g.json && failed.length === 0) {
        printJson({ published, failed: [] });
        return;
      }
      const first = failed[0];
      if (first === undefined) {
        if (g.quiet && !g.json) print(`published ${published.length} component version${published.length === 1 ? '' : 's'}`);
        return;
      }
      if (paths.length === 1) throw first.error;
      throw new RumpkgError(first.error.code, `${failed.length} of ${paths.length} publishes failed (first: ${first.path}: ${first.error.message})`, {
        context: { published, failed: failed.map((f) => ({ path: f.path, ...f.error.toJSON() })) },
        ...(first.error.hint === undefined ? {} : { hint: first.error.hint }),
      });
    });
}
