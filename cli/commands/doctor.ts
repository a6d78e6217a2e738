/**
 * `rumpkg doctor [--target T]... [--offline]`: per target, whether the tools that build and run
 * its images are installed (and the Debian package of each missing one), whether the rumpkg home
 * is writable and the configured registries answer; then the one `apt-get install` line that
 * fixes what is missing. Exit 0 when everything is ready; otherwise the report, then E_TOOLCHAIN
 * (missing tools) or E_REGISTRY / E_IO (exit 1). `--json` prints the report (packager
 * DoctorReport) and sets the same exit code.
 */
import type { Command } from 'commander';
import { bold, dim, globalOptions, green, print, printJson, red, table } from '../output.js';

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check this machine: per target the toolchain and emulator (what to install), the home, the registries')
    .option('-t, --target <target...>', 'targets to check (default: the project\'s, else posix for this host, hw-x86_64, hw-riscv64)')
    .option('--offline', 'do not ask http(s) registries whether they answer')
    .action(async (opts: { target?: string[]; offline?: boolean }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { diagnose } = await import('../../packager/index.js');
      const r = await diagnose({ cwd: g.cwd, ...(opts.target === undefined ? {} : { targets: opts.target }), network: opts.offline !== true });
      const { RumpkgError } = await import('../../components/index.js');
      const notReady = r.targets.filter((t) => !t.ready);
      const failure = r.ready
        ? undefined
        : r.missingPackages.length > 0 || notReady.length > 0
          ? new RumpkgError('E_TOOLCHAIN', `not ready for ${notReady.map((t) => t.target).join(', ')}${r.missingPackages.length > 0 ? `: missing ${r.missingPackages.join(', ')}` : ''}`, {
              context: { targets: notReady.map((t) => t.target), missingPackages: r.missingPackages },
              hint: r.install === null ? notReady.map((t) => t.problem ?? '').filter((p) => p !== '').join('; ') : `${process.getuid?.() === 0 ? '' : 'sudo '}${r.install}`,
            })
          : !r.home.ok
            ? new RumpkgError('E_IO', `the rumpkg home ${r.home.path} is ${r.home.detail}`, { context: { path: r.home.path } })
            : new RumpkgError('E_REGISTRY', `registries do not answer: ${r.registries.filter((x) => !x.ok).map((x) => `${x.scope} ${x.url}`).join(', ')}`, {
                context: { registries: r.registries.filter((x) => !x.ok) },
                hint: 'start the registry, or point the scope elsewhere: rumpkg config set @SCOPE:registry URL',
              });
      if (g.json) {
        printJson(r);
        if (failure !== undefined) process.exitCode = failure.exitCode;
        return;
      }
      const ok = (b: boolean): string => (b ? green('ok') : red('missing'));
      print(`${bold('node')} ${r.node}   ${bold('home')} ${r.home.path} ${r.home.ok ? green(r.home.detail) : red(r.home.detail)}`);
      if (r.registries.length > 0) {
        print(bold('registries'));
        print(table(r.registries.map((x) => [`  ${x.scope}`, x.url, x.ok ? green('ok') : red('not ok'), dim(x.detail)])));
      }
      for (const t of r.targets) {
        print(`${bold(t.target)}  ${t.ready ? green('ready') : red('not ready')}${t.runs === 'host' ? dim('  (images run on this host)') : t.runs === 'emulator' ? dim('  (images boot under QEMU)') : ''}`);
        if (t.tools.length > 0) print(table(t.tools.map((x) => [`  ${x.role}`, x.command, ok(x.path !== null), x.path ?? dim(`apt-get install ${x.debianPackage}`)])));
        if (t.problem !== undefined) print(`  ${red(t.problem)}`);
      }
      if (r.install !== null) {
        print('');
        print(`to install what is missing (Debian/Ubuntu):`);
        print(`  ${process.getuid?.() === 0 ? '' : 'sudo '}${r.install}`);
      }
      if (failure !== undefined) throw failure;
      if (!g.quiet) print(green('everything is ready'));
    });
}
