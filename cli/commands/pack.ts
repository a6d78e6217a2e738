/**
 * `rumpkg pack DIR [-o FILE]`: validates the component directory's manifest, writes the
 * reproducible tarball atomically (temp file + rename; default `./<scope>-<name>-<version>.tgz`
 * in the working directory, e.g. `rump-tcpip-10.0.0.tgz`) and prints the file and its
 * integrity. `--json` prints exactly `{"file","integrity","size"}`.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { bold, globalOptions, print, printJson } from '../output.js';

/** `@rump/tcpip` + `10.0.0` → `rump-tcpip-10.0.0.tgz`. */
export function tarballFileName(name: string, version: string): string {
  return `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`;
}

export function register(program: Command): void {
  program
    .command('pack')
    .description('pack a component directory into a reproducible tarball and print its integrity')
    .argument('<dir>', 'the component directory (holding package.json with a "rump" section)')
    .option('-o, --output <file>', 'where to write the tarball (default: ./<scope>-<name>-<version>.tgz)')
    .action(async (dirArg: string, opts: { output?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { packComponent, fsError } = await import('../../components/index.js');
      const packed = await packComponent(resolve(g.cwd, dirArg));
      const file = resolve(g.cwd, opts.output ?? tarballFileName(packed.manifest.name, packed.manifest.version));
      const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
      try {
        await writeFile(tmp, packed.data, { flag: 'wx', mode: 0o644 });
        await rename(tmp, file);
      } catch (e) {
        await rm(tmp, { force: true });
        throw fsError(e, file, 'write');
      }
      if (g.json) {
        printJson({ file, integrity: packed.integrity, size: packed.size });
        return;
      }
      const files = packed.files.filter((f) => f.type === 'file').length;
      print(`${bold(`${packed.manifest.name}@${packed.manifest.version}`)}`);
      print(`file:      ${file}`);
      print(`integrity: ${packed.integrity}`);
      if (!g.quiet) print(`size:      ${packed.size} bytes (${files} file${files === 1 ? '' : 's'})`);
    });
}
