/**
 * `rumpkg import archives DIR --target T --version V [-o OUT]`: real `librump*.a` →
 * component directories (components/import.ts), with the symbol analysis against the catalog.
 * (Not `--version`: commander parses the program's global `-V, --version` anywhere on the
 * command line, so a subcommand cannot reuse that flag.)
 *
 * `rumpkg import upstream --ref REF NAME...`: provenance from the upstream repository
 * (registry/upstream.ts). NAME is a component directory (its manifest's `rump.upstream` is
 * replaced, with every file's git blob hash) or a catalog name (the block is printed; nothing is
 * written). `--repo owner/repo` overrides the repository, `--github-url` is the REST API root
 * (GitHub Enterprise: https://HOST/api/v3). Token: GITHUB_TOKEN or GH_TOKEN, never printed.
 */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { bold, createReporter, dim, globalOptions, green, note, print, printJson, table, yellow } from '../output.js';

export function register(program: Command): void {
  const imp = program.command('import').description('import real NetBSD rump kernel archives, or upstream provenance');

  imp
    .command('archives')
    .description('turn every librump*.a of DIR into a component directory (manifest from the catalog + symbol analysis)')
    .argument('<dir>', 'directory holding librump*.a (buildrump.sh rump/lib, or a NetBSD /usr/lib)')
    .requiredOption('--target <target>', 'the target the archives were built for, e.g. posix-x86_64')
    .requiredOption('--version <version>', 'the version to give every component, e.g. 10.0.0')
    .option('-o, --out <dir>', 'where to write component directories', 'rump-components')
    .option('--upstream-ref <ref>', 'the upstream branch or tag the archives were built from (recorded as upstream.ref; none: unknown)')
    .option('--upstream-commit <sha>', 'the upstream commit the archives were built from (recorded as upstream.commit)')
    .option('--include <dir>', 'the headers of the build (the directory with rump/rump.h), shipped with the base component (default DIR/../include)')
    .option('--no-include', 'ship no headers')
    .option('--license <spdx>', 'licence of archives the catalog does not know', 'LicenseRef-unknown')
    .option('--dry-run', 'analyse and report; write nothing')
    .action(async (dir: string, opts: { target: string; version: string; out: string; upstreamRef?: string; upstreamCommit?: string; include?: string | false; license: string; dryRun?: boolean }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { importArchives } = await import('../../components/index.js');
      const reporter = createReporter(g);
      const r = await importArchives(resolve(g.cwd, dir), {
        target: opts.target,
        version: opts.version,
        out: resolve(g.cwd, opts.out),
        license: opts.license,
        ...(opts.upstreamRef === undefined ? {} : { upstreamRef: opts.upstreamRef }),
        ...(opts.upstreamCommit === undefined ? {} : { upstreamCommit: opts.upstreamCommit }),
        ...(opts.include === undefined ? {} : { include: opts.include === false ? false : resolve(g.cwd, opts.include) }),
        ...(opts.dryRun === true ? { dryRun: true } : {}),
        onProgress: (done, total) => reporter.progress('reading archives', done, total),
      });
      if (g.json) {
        printJson({
          target: r.target,
          version: r.version,
          out: r.out,
          dryRun: opts.dryRun === true,
          components: r.components.map((c) => ({
            name: c.name,
            version: c.manifest.version,
            lib: c.lib,
            known: c.known,
            merged: c.merged,
            dir: c.dir,
            dependencies: c.manifest.dependencies,
            optionalDependencies: c.manifest.rump.optionalDependencies,
            symbols: c.manifest.rump.targets[r.target]?.symbols,
          })),
          findings: r.findings,
          skipped: r.skipped,
          warnings: r.warnings,
          analysis: r.analysis,
        });
        return;
      }
      for (const w of r.warnings) reporter.warn(w);
      const verb = opts.dryRun === true ? 'would write' : 'wrote';
      print(`${bold(`${r.components.length} component${r.components.length === 1 ? '' : 's'}`)} for ${r.target} @ ${r.version} ${dim(`(${verb} ${r.out})`)}`);
      if (g.verbose) {
        print(
          table(
            r.components.map((c) => [
              `  ${c.merged ? '~' : green('+')} ${c.name}`,
              c.lib,
              `${c.manifest.rump.targets[r.target]?.symbols?.defined ?? 0} symbols`,
              Object.keys(c.manifest.dependencies).map((d) => d.replace(/^@rump\//, '')).join(' ') || '-',
            ]),
          ),
        );
      }
      const missing = r.findings.filter((f) => f.status === 'missing' || f.status === 'missing-any-of');
      const unneeded = r.findings.filter((f) => f.status === 'unneeded');
      if (missing.length > 0) {
        print(bold(yellow(`symbols prove ${missing.length} edge${missing.length === 1 ? '' : 's'} the catalog lacks:`)));
        for (const f of missing) print(`  ${f.from} → ${f.to}${f.status === 'missing-any-of' ? ' (any one of: written as an any-of group)' : ' (written)'}  ${dim((f.examples ?? []).slice(0, 3).join(', '))}`);
      }
      const conflicts = r.findings.filter((f) => f.status === 'conflict');
      if (conflicts.length > 0) {
        print(bold(`symbols prove ${conflicts.length} conflict${conflicts.length === 1 ? '' : 's'} (written into both manifests):`));
        for (const f of conflicts) print(`  ${f.from} × ${f.to}  ${dim((f.examples ?? []).slice(0, 4).join(', '))}`);
      }
      const unexpected = unneeded.filter((f) => f.expected !== true);
      if (unneeded.length > 0) {
        print(`${unneeded.length} catalog edge${unneeded.length === 1 ? '' : 's'} no symbol proves (kept; ${unneeded.length - unexpected.length} documented as sufficient-not-needed or to shims)`);
        for (const f of g.verbose ? unneeded : unexpected) print(`  ${f.from} → ${f.to}  ${dim(f.kinds?.join(', ') ?? '')}`);
      }
      if (r.skipped.length > 0) note(g, `skipped ${r.skipped.length} file${r.skipped.length === 1 ? '' : 's'}${g.verbose ? `: ${r.skipped.map((s) => `${s.file.split('/').pop()} (${s.reason})`).join('; ')}` : ' (--verbose lists them)'}`);
    });

  imp
    .command('upstream')
    .description('record upstream provenance (per-file git blob hashes) for components, through the GitHub API')
    .argument('<names...>', 'component directories (updated) or catalog names (printed)')
    .requiredOption('--ref <ref>', 'upstream tag, branch or commit, e.g. netbsd-10-0-RELEASE')
    .option('--repo <owner/repo>', 'upstream repository (default: the component\'s, else NetBSD/src)')
    .option('--github-url <url>', 'GitHub REST API root (GitHub Enterprise: https://HOST/api/v3)')
    .action(async (names: string[], opts: { ref: string; repo?: string; githubUrl?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { catalogEntry, loadComponentDir, errorFromProblems, RumpkgError } = await import('../../components/index.js');
      const { createUpstreamClient, readUpstream, writeComponentUpstream, DEFAULT_UPSTREAM_REPOSITORY } = await import('../../registry/index.js');
      const reporter = createReporter(g);
      const client = createUpstreamClient({ ...(opts.githubUrl === undefined ? {} : { baseUrl: opts.githubUrl }), reporter });
      const results: Array<{ name: string; dir: string | null; upstream: unknown }> = [];
      for (const word of names) {
        const dir = resolve(g.cwd, word);
        const isDir = await stat(join(dir, 'package.json')).then(() => true, () => false);
        if (isDir) {
          const loaded = await loadComponentDir(dir);
          if (loaded.value === undefined) throw errorFromProblems(loaded.errors, { file: join(dir, 'package.json'), kind: 'component-manifest' });
          const m = loaded.value;
          const source = m.rump.upstream ?? catalogEntry(m.rump.lib)?.upstream;
          if (source === undefined) {
            throw new RumpkgError('E_UPSTREAM', `${m.name} (${dir}) has no upstream path and is not in the catalog`, {
              context: { component: m.name, path: dir },
              hint: 'add rump.upstream {project, repository, ref, path} to its package.json first',
            });
          }
          const u = await readUpstream(
            { project: source.project, repository: opts.repo ?? source.repository, path: source.path },
            { ref: opts.ref, client },
          );
          await writeComponentUpstream(dir, u);
          results.push({ name: m.name, dir, upstream: u });
          if (!g.json) print(`${green('~')} ${m.name}: ${Object.keys(u.files ?? {}).length} files of ${u.repository}/${u.path} at ${u.ref ?? 'unknown ref'} ${dim(`(${u.commit?.slice(0, 12)})`)}`);
          continue;
        }
        const entry = catalogEntry(word);
        if (entry === undefined) {
          throw new RumpkgError('E_NOT_FOUND', `'${word}' is neither a component directory nor a catalog component`, {
            context: { component: word, path: dir },
            hint: 'pass a directory holding package.json, or a name such as tcpip',
          });
        }
        const u = await readUpstream(
          { project: entry.upstream.project, repository: opts.repo ?? entry.upstream.repository ?? DEFAULT_UPSTREAM_REPOSITORY, path: entry.upstream.path },
          { ref: opts.ref, client },
        );
        results.push({ name: `@rump/${entry.name}`, dir: null, upstream: u });
        if (!g.json) {
          print(`${bold(`@rump/${entry.name}`)}: ${u.repository}/${u.path} at ${u.ref ?? 'unknown ref'} (${u.commit})`);
          for (const [p, sha] of Object.entries(u.files ?? {})) print(`  ${sha}  ${p}`);
        }
      }
      if (g.json) printJson({ components: results });
    });
}
