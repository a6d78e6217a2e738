/**
 * `rumpkg build [--target T] [--dry-run] [-o FILE] [--force] [--components-dir DIR]`: link the
 * project's image(s) from rumpkg.json + rumpkg.lock (packager buildProject). `--dry-run` prints
 * the link plan — human: a POSIX shell script that reproduces the image byte for byte; `--json`:
 * the plan(s) — and the real build executes that same plan. With nothing changed, nothing runs.
 *
 * Component directories: `--components-dir DIR` (unpacked components as `DIR/<version>/<name>`,
 * e.g. the miniature corpus); otherwise the project's store (`storeComponentDirResolver`).
 * Compiled application and glue objects are kept in `$RUMPKG_HOME/objects` (packager
 * build/object-cache.ts: keyed by the exact inputs), so `--force` re-links without recompiling.
 *
 * A build whose images were all up to date, that printed nothing but its answer, leaves the memo
 * from which the launcher answers the next identical build without loading the CLI while nothing
 * the check depended on has changed (packager/early, replayNoop).
 */
import { isAbsolute, join } from 'node:path';
import type { Command } from 'commander';
import type { CheckedFiles } from '../../packager/index.js';
import { createReporter, globalOptions, green, jsonText, printJson } from '../output.js';
import { launcherFiles } from '../self.js';

export function register(program: Command): void {
  program
    .command('build')
    .description('link the image for a target; --dry-run prints the link plan')
    .option('-t, --target <target>', 'the target to build (default: every locked target of rumpkg.json)')
    .option('--dry-run', 'print the link plan (a shell script; --json: the plan) and build nothing')
    .option('-o, --output <file>', 'the image path (default: build/<target>/<name>)')
    .option('--force', 'rebuild even when nothing changed (unchanged compiles come from the object cache)')
    .option('--components-dir <dir>', 'take unpacked components from DIR/<version>/<name> instead of the store')
    .action(async (opts: { target?: string; dryRun?: boolean; output?: string; force?: boolean; componentsDir?: string }, cmd: Command) => {
      const startedAt = Date.now();
      const g = globalOptions(cmd);
      const { buildProject, componentDirsFromRoot, recordNoop, renderPlanScript, storeComponentDirResolver } = await import('../../packager/index.js');
      const { homePaths, resolveHome } = await import('../../registry/index.js');
      const abs = (p: string): string => (isAbsolute(p) ? p : join(g.cwd, p));
      const resolveComponentDir = opts.componentsDir !== undefined ? componentDirsFromRoot(abs(opts.componentsDir)) : await storeComponentDirResolver(g.cwd);
      const checked: CheckedFiles[] = [];
      const results = await buildProject(g.cwd, {
        resolveComponentDir,
        reporter: createReporter(g),
        depended: (f) => checked.push(f),
        objectCache: homePaths(resolveHome()).objects,
        ...(opts.target === undefined ? {} : { target: opts.target }),
        ...(opts.output === undefined ? {} : { output: abs(opts.output) }),
        ...(opts.dryRun === true ? { dryRun: true } : {}),
        ...(opts.force === true ? { force: true } : {}),
      });
      if (opts.dryRun === true) {
        if (g.json) printJson(results.length === 1 ? results[0]!.plan : results.map((r) => r.plan));
        else for (const r of results) process.stdout.write(renderPlanScript(r.plan));
        return;
      }
      let text = '';
      if (g.json) text = jsonText(results.map((r) => ({ target: r.target, image: r.image, upToDate: r.upToDate, sha256: r.sha256, bytes: r.bytes })));
      else if (!g.quiet) {
        for (const r of results) text += `${r.upToDate ? `${r.image} is up to date (${r.target})` : `${green('✓')} built ${r.image} for ${r.target} (${r.bytes} bytes, ${r.sha256})`}\n`;
      }
      process.stdout.write(text);
      // Nothing to do, nothing but the answer printed: the next identical build may be answered by the launcher.
      if (opts.force !== true && opts.componentsDir === undefined && !g.verbose && results.every((r) => r.upToDate) && checked.length === results.length) {
        const paths = checked.flatMap((c) => c.paths);
        const tools = checked.flatMap((c) => c.tools);
        recordNoop({ command: 'build', argv: process.argv.slice(2), env: process.env, cwd: process.cwd(), tty: process.stdout.isTTY === true, startedAt, checked: { paths, tools }, self: launcherFiles('rumpkg-early-noop.cjs'), stdout: text });
      }
    });
}
