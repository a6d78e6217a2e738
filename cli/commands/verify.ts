/**
 * `rumpkg verify [NAME...]`: re-hashes the store (every unpacked component against its
 * index.json; registry/store.ts `verify`, report only — `rumpkg cache verify` evicts).
 *
 * `rumpkg verify --upstream [NAME...]`: re-checks recorded upstream file hashes
 * (`rump.upstream.files`) against the upstream repository at the recorded ref, through the
 * GitHub API, and reports modified, missing and added files (and a ref that now names another
 * commit). NAME is a component directory or a component of the project's lockfile (read from
 * the store, fetched if needed); no NAME = every locked component that records upstream files.
 * Anything that differs → E_UPSTREAM (exit 1) after the report.
 */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { bold, createReporter, dim, globalOptions, green, print, printJson, red } from '../output.js';

export function register(program: Command): void {
  program
    .command('verify')
    .description('verify the store, or (--upstream) recorded upstream file hashes against the upstream repository')
    .argument('[names...]', 'component directories or locked component names')
    .option('--upstream', 're-check rump.upstream.files against upstream at the recorded ref')
    .option('--github-url <url>', 'GitHub REST API root (GitHub Enterprise: https://HOST/api/v3)')
    .action(async (names: string[], opts: { upstream?: boolean; githubUrl?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { RumpkgError, loadComponentDir, errorFromProblems } = await import('../../components/index.js');
      if (opts.upstream !== true) {
        const { createStore, resolveHome } = await import('../../registry/index.js');
        const store = createStore({ tarball: () => Promise.reject(new Error('verify reads only')) }, { home: resolveHome() });
        const r = await store.verify({ evict: false });
        const wanted = (p: { name?: string }): boolean => names.length === 0 || names.some((n) => p.name === n || p.name === `@rump/${n}`);
        const problems = r.problems.filter(wanted);
        if (problems.length > 0) {
          throw new RumpkgError('E_CACHE', `${problems.length} store entr${problems.length === 1 ? 'y is' : 'ies are'} damaged: ${problems.map((p) => `${p.name ?? p.key}${p.version === undefined ? '' : `@${p.version}`} (${p.problem})`).join('; ')}`, {
            context: { checked: r.checked, problems },
            hint: 'rumpkg cache verify evicts them; rumpkg install fetches them again',
          });
        }
        if (g.json) printJson({ checked: r.checked, problems: [] });
        else print(`${green('ok')} store: ${r.checked} component${r.checked === 1 ? '' : 's'} verified`);
        return;
      }

      const { createUpstreamClient, verifyUpstream } = await import('../../registry/index.js');
      const reporter = createReporter(g);
      // What to check: component directories named on the command line, else locked components.
      const sources: Array<{ label: string; dir: string; explicit: boolean }> = [];
      const lockedWords: string[] = [];
      for (const n of names) {
        const dir = resolve(g.cwd, n);
        if (await stat(join(dir, 'package.json')).then(() => true, () => false)) sources.push({ label: n, dir, explicit: true });
        else lockedWords.push(n);
      }
      if (lockedWords.length > 0 || names.length === 0) {
        const { readLock, lockedNameFor, storeComponentDirResolver } = await import('../../packager/index.js');
        const lock = await readLock(g.cwd);
        if (lock === undefined) {
          throw new RumpkgError('E_NOT_FOUND', names.length === 0 ? `there is no rumpkg.lock in ${g.cwd}` : `'${lockedWords[0]}' is not a component directory and there is no rumpkg.lock in ${g.cwd}`, {
            context: { path: g.cwd },
            hint: 'pass component directories, or run in a project after rumpkg install',
          });
        }
        const locked = new Map<string, { name: string; c: (typeof lock.targets)[string]['components'][string] }>();
        for (const t of Object.values(lock.targets)) for (const [name, c] of Object.entries(t.components)) locked.set(`${name}@${c.version}`, { name, c });
        const want = lockedWords.map((w) => lockedNameFor(lock, w));
        for (const w of want) {
          if (![...locked.values()].some((x) => x.name === w)) {
            throw new RumpkgError('E_NOT_FOUND', `${w} is not in rumpkg.lock`, { context: { component: w }, hint: 'rumpkg tree lists the locked components' });
          }
        }
        const resolveDir = await storeComponentDirResolver(g.cwd, { reporter });
        for (const { name, c } of [...locked.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
          if (want.length > 0 && !want.includes(name)) continue;
          sources.push({ label: `${name}@${c.version}`, dir: await resolveDir(name, c), explicit: want.length > 0 });
        }
      }

      const client = createUpstreamClient({ ...(opts.githubUrl === undefined ? {} : { baseUrl: opts.githubUrl }), reporter });
      const results: Array<Record<string, unknown>> = [];
      let bad = 0;
      for (const s of sources) {
        const loaded = await loadComponentDir(s.dir);
        if (loaded.value === undefined) throw errorFromProblems(loaded.errors, { file: join(s.dir, 'package.json'), kind: 'component-manifest' });
        const m = loaded.value;
        const u = m.rump.upstream;
        if (u?.files === undefined || Object.keys(u.files).length === 0) {
          if (s.explicit) {
            throw new RumpkgError('E_UPSTREAM', `${m.name}@${m.version} (${s.dir}) records no upstream file hashes`, {
              context: { component: m.name, path: s.dir },
              hint: 'record them: rumpkg import upstream --ref REF DIR',
            });
          }
          results.push({ name: m.name, version: m.version, skipped: 'no upstream file hashes recorded' });
          continue;
        }
        const r = await verifyUpstream(u, { client, what: `${m.name}@${m.version}` });
        if (!r.ok) bad++;
        results.push({ name: m.name, version: m.version, dir: s.dir, ...r });
        if (!g.json) {
          const head = `${m.name}@${m.version}: ${u.repository}/${r.path} at ${r.ref}`;
          if (r.ok) print(`${green('ok')} ${head} ${dim(`(${r.files} files${r.commitChanged ? `; the ref moved from ${r.recordedCommit?.slice(0, 12)} to ${r.commit.slice(0, 12)}` : ''})`)}`);
          else {
            print(`${red('differs')} ${bold(head)}${r.commitChanged ? ` (the ref moved from ${r.recordedCommit?.slice(0, 12)} to ${r.commit.slice(0, 12)})` : ''}`);
            for (const x of r.modified) print(`  modified  ${x.path}  ${dim(`${x.recorded.slice(0, 12)} → ${x.upstream.slice(0, 12)}`)}`);
            for (const x of r.missing) print(`  missing   ${x}`);
            for (const x of r.added) print(`  added     ${x.path}`);
          }
        }
      }
      if (bad > 0) {
        throw new RumpkgError('E_UPSTREAM', `${bad} of ${results.length} component${results.length === 1 ? '' : 's'} differ from upstream`, {
          context: { results },
          hint: 'the recorded files are not what upstream has at that ref: re-import, or investigate the change',
        });
      }
      if (g.json) {
        printJson({ results });
        return;
      }
      // Say what was not checked: a run that checked nothing must not look like a clean pass.
      const skipped = results.filter((r) => r.skipped !== undefined);
      const checked = results.length - skipped.length;
      if (g.verbose || checked === 0) for (const r of skipped) print(`${dim('skipped')} ${String(r.name)}@${String(r.version)}: ${String(r.skipped)}`);
      if (results.length === 0) print('nothing verified: no locked components');
      else if (checked === 0) print(`nothing verified: none of the ${skipped.length} component${skipped.length === 1 ? '' : 's'} records upstream file hashes (rump.upstream.files; rumpkg import upstream records them)`);
      else if (skipped.length > 0) print(dim(`${checked} checked; ${skipped.length} record${skipped.length === 1 ? 's' : ''} no upstream file hashes and ${skipped.length === 1 ? 'was' : 'were'} not checked`));
    });
}
