/**
 * `rumpkg validate FILE [--kind KIND]`: schema + semantic validation of one rumpkg document.
 * The kind comes from `--kind`, else the file name (`package.json` with a `rump` object,
 * `rumpkg.json`, `rumpkg.lock`), else the content. A directory is a component directory. For a
 * component manifest the target archives are checked against the files of its directory.
 * Valid: `✓ FILE: valid <kind> …`, exit 0. Invalid: every problem (file, JSON pointer, what was
 * expected) in a RumpkgError (E_JSON_PARSE / E_SCHEMA / E_MANIFEST / E_LOCKFILE), exit 1.
 * `--json` prints `{file, kind, valid, problems}` (plus `error` when invalid) and exits 1 when invalid.
 */
import { isAbsolute, join } from 'node:path';
import type { Command } from 'commander';
import { globalOptions, green, print, printJson } from '../output.js';

export function register(program: Command): void {
  program
    .command('validate')
    .description('validate a component manifest, rumpkg.json, rumpkg.lock or image manifest (schema and semantic checks)')
    .argument('<file>', 'the document, or a component directory')
    .option('--kind <kind>', 'component-manifest | project-manifest | lockfile | image-manifest (default: detected)')
    .action(async (fileArg: string, opts: { kind?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { loadDocumentFile, errorFromProblems, RumpkgError } = await import('../../components/index.js');
      const { DOCUMENT_KINDS } = await import('../../schemas/index.js');
      if (opts.kind !== undefined && !(DOCUMENT_KINDS as readonly string[]).includes(opts.kind)) {
        throw new RumpkgError('E_USAGE', `unknown --kind ${JSON.stringify(opts.kind)}`, { hint: `use one of ${DOCUMENT_KINDS.join(', ')}` });
      }
      const path = isAbsolute(fileArg) ? fileArg : join(g.cwd, fileArg);
      const r = await loadDocumentFile(path, { kind: opts.kind as (typeof DOCUMENT_KINDS)[number] | undefined, label: fileArg });
      const error = r.errors.length === 0 ? undefined : errorFromProblems(r.errors, { file: r.file, kind: r.kind });
      if (g.json) {
        printJson({
          file: r.file,
          kind: r.kind,
          valid: error === undefined,
          problems: r.errors,
          ...(error === undefined ? {} : { error: { code: error.code, message: error.message } }),
        });
        if (error !== undefined) process.exitCode = error.exitCode;
        return;
      }
      if (error !== undefined) throw error;
      print(`${green('✓')} ${r.file}: valid ${r.kind.replace('-', ' ')}${r.summary === '' ? '' : ` (${r.summary})`}`);
    });
}
