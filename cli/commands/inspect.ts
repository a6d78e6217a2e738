/**
 * `rumpkg inspect FILE.tgz [--extract DIR] [--integrity SRI]`: the full tarball validation
 * (integrity when given, every header, the manifest against the files), then a manifest
 * summary and the file list. `--extract DIR` also unpacks it (DIR must not exist; the
 * integrity defaults to the file's own). A bad tarball exits 1 with the typed message.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { bold, dim, globalOptions, print, printJson, table } from '../output.js';

export function register(program: Command): void {
  program
    .command('inspect')
    .description('validate a component tarball completely; show its manifest and files')
    .argument('<file>', 'the .tgz file')
    .option('--extract <dir>', 'also unpack it into DIR (which must not exist)')
    .option('--integrity <sri>', 'the expected SRI integrity (sha512-…)')
    .action(async (fileArg: string, opts: { extract?: string; integrity?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { readTarballEntries, unpackComponent } = await import('../../components/index.js');
      const path = resolve(g.cwd, fileArg);
      // The file is read a piece at a time by the library (bounded memory), not whole here.
      const source = { file: path };
      const what = fileArg;
      let manifest;
      let files;
      let integrity: string;
      let size: number;
      let extracted: string | undefined;
      if (opts.extract !== undefined) {
        extracted = resolve(g.cwd, opts.extract);
        // Without --integrity this is the user's own file: nothing to verify, its integrity is shown.
        ({ manifest, files, integrity, size } = await unpackComponent(source, extracted, opts.integrity === undefined ? { localFile: true, what } : { integrity: opts.integrity, what }));
      } else {
        const r = await readTarballEntries(source, { what, ...(opts.integrity === undefined ? {} : { integrity: opts.integrity }) });
        manifest = r.manifest;
        files = r.entries;
        integrity = r.integrity;
        size = r.size;
      }
      const summary = {
        name: manifest.name,
        version: manifest.version,
        kind: manifest.rump.kind,
        lib: manifest.rump.lib,
        license: manifest.license,
        description: manifest.description,
        targets: Object.keys(manifest.rump.targets).sort(),
        dependencies: manifest.dependencies,
        requires: manifest.rump.requires,
        provides: manifest.rump.provides,
        conflicts: manifest.rump.conflicts,
      };
      if (g.json) {
        printJson({ file: path, integrity, size, ...summary, files, ...(extracted === undefined ? {} : { extracted }), manifest });
        return;
      }
      const list = (xs: string[]): string => (xs.length === 0 ? dim('-') : xs.join(', '));
      print(`${bold(`${summary.name}@${summary.version}`)} ${dim(`(${summary.kind})`)}${summary.description === '' ? '' : ` ${summary.description}`}`);
      print(
        table([
          ['lib:', summary.lib],
          ['license:', summary.license],
          ['targets:', list(summary.targets)],
          ['depends:', list(Object.entries(summary.dependencies).map(([n, r]) => `${n} ${r}`))],
          ['requires:', list(summary.requires)],
          ['provides:', list(summary.provides)],
          ['conflicts:', list(summary.conflicts)],
          ['integrity:', integrity],
          ['size:', `${size} bytes`],
        ]),
      );
      if (!g.quiet) {
        print(`files (${files.filter((f) => f.type === 'file').length}):`);
        print(
          table(files.map((f) => [`  ${f.mode.toString(8).padStart(4, '0')}`, f.type === 'directory' ? dim('dir') : String(f.size), f.type === 'directory' ? `${f.path}/` : f.path])),
        );
      }
      if (extracted !== undefined) print(`extracted to ${extracted}`);
    });
}
