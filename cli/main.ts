/**
 * The `rumpkg` command: a thin shell (STYLE.md §5). Each file in `commands/` registers its
 * subcommands; an action parses its arguments, lazily imports one library function, renders
 * human or `--json` output and returns. Exit codes (DESIGN.md §9): 0 success; 1 a typed
 * RumpkgError (message + hint, no stack); 2 usage; 3 audit findings; 70 an internal bug.
 */
import { Command, CommanderError } from 'commander';
import { cliVersion } from './version.js';
import { registerAll, registerOnly } from './commands/index.js';

/**
 * The commander tree of every command (also what docs/commands.md is generated from), or with
 * `only`, of that one command when it is a command's name (the tree a run of that command needs).
 */
export function createProgram(only?: string): Command {
  const program = new Command('rumpkg')
    .description('package manager for rump kernel components: publish, resolve, package and audit NetBSD drivers')
    .addHelpText('beforeAll', () => `rumpkg ${cliVersion()}\n`)
    .addHelpText('after', '\n`rumpkg -V` / `rumpkg --version` prints the version.')
    .option('--json', 'machine-readable output on stdout')
    .option('-q, --quiet', 'print less')
    .option('-v, --verbose', 'print more')
    .option('--cwd <dir>', 'run as if started in DIR')
    .showSuggestionAfterError()
    .exitOverride();
  if (only === undefined || !registerOnly(program, only)) registerAll(program);
  for (const c of program.commands) c.exitOverride();
  return program;
}

/** The command a run names: the first word that is not a global option (`--cwd` takes a value). */
function commandWord(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--cwd') i++;
    else if (a === '--') return undefined;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

function wantsJson(argv: string[]): boolean {
  return argv.includes('--json');
}

export async function main(argv: string[]): Promise<number> {
  // `-V`/`--version` only in first position: subcommands may take a `--version` of their own
  // (`rumpkg import archives DIR --version 10.0.0`), which commander's global version option
  // would swallow anywhere on the line.
  if (argv[0] === '-V' || argv[0] === '--version') {
    process.stdout.write(`${cliVersion()}\n`);
    return 0;
  }
  const program = createProgram(commandWord(argv));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit through here with code 0.
      if (e.exitCode === 0) return 0;
      return 2;
    }
    // The error class loads only when something failed: starting the CLI loads no library module
    // (each command imports the library lazily; `rumpkg --version` stays fast).
    const { RumpkgError } = await import('../components/index.js');
    if (e instanceof RumpkgError) {
      if (wantsJson(argv)) process.stdout.write(`${JSON.stringify({ error: e.toJSON() }, null, 2)}\n`);
      else {
        process.stderr.write(`rumpkg: error[${e.code}]: ${e.message}\n`);
        if (e.hint !== undefined) process.stderr.write(`  hint: ${e.hint}\n`);
      }
      return e.exitCode;
    }
    process.stderr.write(`rumpkg: internal error (this is a bug in rumpkg)\n`);
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 70;
  }
}

