/**
 * `rumpkg run [--target T] [--image FILE] [--timeout SEC] [-- ARGS]`: run the project's built
 * image — the one `rumpkg build` last wrote for the target (`-o FILE` included), refused with
 * what to run when it is missing or out of date — and exit with the image's status. posix-*: executed on the host, its output streamed.
 * hw-*: booted under QEMU (packager bootImage), the serial console streamed to stdout (the
 * firmware banner only with --verbose), bounded by --timeout (default 30 s; a guest that does not
 * power off in time is E_RUN and QEMU is killed). Images of a rumprun platform package (real
 * NetBSD drivers) get their configuration on the kernel command line and the host ports of
 * rumpkg.json `image.forward`; ARGS go to the program; the status is read from the console, and
 * relative block-device files are found from --cwd. With `--json` the output is collected and
 * printed as `{target, image, status, signal, timedOut, stdout, stderr}` (+ `early` and `timings`
 * for hw: `early` when QEMU was started by the launcher, packager/run/early-qemu.ts).
 */
import { isAbsolute, join } from 'node:path';
import type { Command } from 'commander';
import type { BootRecord, CheckedFiles } from '../../packager/index.js';
import { createReporter, globalOptions, printJson } from '../output.js';
import { launcherFiles } from '../self.js';

export function register(program: Command): void {
  program
    .command('run')
    .description('run the built image (posix: execute it on the host; hw: boot it under QEMU)')
    .argument('[args...]', 'arguments for the image (after --)')
    .option('-t, --target <target>', 'the target whose image to run (default: the first posix target of rumpkg.json)')
    .option('--image <file>', 'run this image instead of the project\'s')
    .option('--timeout <seconds>', 'kill the image after this many seconds (hw default: 30)')
    .action(async (args: string[], opts: { target?: string; image?: string; timeout?: string }, cmd: Command) => {
      const startedAt = Date.now();
      const g = globalOptions(cmd);
      const { RumpkgError, readImageManifest } = await import('../../components/index.js');
      const { runImage, locateProjectImage, recordEarlyBoot, storeComponentDirResolver } = await import('../../packager/index.js');
      let target = opts.target;
      let image = opts.image === undefined ? undefined : isAbsolute(opts.image) ? opts.image : join(g.cwd, opts.image);
      // The up-to-date check of the project's image, once it was started (by the boot, or below).
      let check: (() => Promise<CheckedFiles>) | undefined;
      let checked: Promise<CheckedFiles> | undefined;
      let booted: BootRecord | undefined;
      if (image === undefined) {
        // The project's image: the one rumpkg build last wrote for the target (-o included),
        // refused with what to run when it is missing or out of date. The up-to-date check runs
        // while the run is prepared (QEMU starts paused), and nothing runs before it passed —
        // unless the launcher started QEMU early, on proof that nothing the last passed check
        // depended on has changed (packager/run/early-qemu.ts).
        const located = await locateProjectImage(g.cwd, {
          ...(target === undefined ? {} : { target }),
          resolveComponentDir: await storeComponentDirResolver(g.cwd, { reporter: createReporter(g) }),
          deferCheck: true,
        });
        target = located.target;
        image = located.image;
        const locatedCheck = located.check!;
        check = () =>
          (checked ??= locatedCheck().then((files) => {
            // Passed: the next identical run may start this QEMU from the launcher (recorded
            // once the guest was let go, not before).
            const boot = booted;
            if (boot !== undefined) setImmediate(() => recordEarlyBoot({ argv: process.argv.slice(2), env: process.env, cwd: process.cwd(), startedAt, checked: files, boot, toTerminal: !g.json, self: launcherFiles('rumpkg-early-run.cjs') }));
            return files;
          }));
      }
      target ??= (await readImageManifest(image)).target;
      let timeoutMs: number | undefined;
      if (opts.timeout !== undefined) {
        timeoutMs = Number(opts.timeout) * 1000;
        if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RumpkgError('E_USAGE', `--timeout needs a positive number of seconds, not ${opts.timeout}`);
      }
      let r: Awaited<ReturnType<typeof runImage>>;
      try {
        r = await runImage(image, {
          target,
          args,
          cwd: g.cwd,
          verbose: g.verbose,
          ...(timeoutMs === undefined ? {} : { timeoutMs }),
          ...(g.json ? {} : { stdout: process.stdout, stderr: process.stderr }),
          ...(check === undefined ? {} : { gate: check }),
          booting: (boot) => {
            booted = boot;
          },
        });
      } catch (e) {
        await check?.(); // an out-of-date image is what to report first (started now if it was not)
        throw e;
      }
      if (g.json) printJson({ target, image, status: r.status, signal: r.signal, timedOut: r.timedOut, stdout: r.stdout, stderr: r.stderr, ...(r.early === undefined ? {} : { early: r.early }), ...(r.timings === undefined ? {} : { timings: r.timings }) });
      if (r.timedOut) {
        throw new RumpkgError('E_RUN', `${image} did not finish within ${opts.timeout} s and was killed`, { context: { path: image, target }, hint: 'raise --timeout' });
      }
      process.exitCode = r.status;
    });
}
