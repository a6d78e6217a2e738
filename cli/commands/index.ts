// Every command file registers its subcommands; keep this list alphabetical within groups.
import type { Command } from 'commander';
import { register as validateCmd } from './validate.js';
import { register as packCmd } from './pack.js';
import { register as inspectCmd } from './inspect.js';
import { register as publishCmd } from './publish.js';
import { register as yankCmd } from './yank.js';
import { register as infoCmd } from './info.js';
import { register as searchCmd } from './search.js';
import { register as loginCmd, registerAccount } from './login.js';
import { register as configCmd } from './config.js';
import { register as doctorCmd } from './doctor.js';
import { register as newCmd } from './new.js';
import { register as registryCmd } from './registry.js';
import { register as cacheCmd } from './cache.js';
import { register as initCmd } from './init.js';
import { register as addCmd } from './add.js';
import { register as removeCmd } from './remove.js';
import { register as installCmd } from './install.js';
import { register as updateCmd } from './update.js';
import { register as outdatedCmd } from './outdated.js';
import { register as treeCmd } from './tree.js';
import { register as whyCmd } from './why.js';
import { register as graphCmd } from './graph.js';
import { register as buildCmd } from './build.js';
import { register as runCmd } from './run.js';
import { register as sizeCmd } from './size.js';
import { register as auditCmd } from './audit.js';
import { register as importCmd } from './import.js';
import { register as verifyCmd } from './verify.js';

type Register = (program: Command) => void;

/** Every registration, in the order `rumpkg --help` lists the commands. */
const ALL: readonly Register[] = [
  validateCmd, packCmd, inspectCmd, publishCmd, yankCmd, infoCmd, searchCmd, loginCmd, registerAccount,
  configCmd, doctorCmd, newCmd, registryCmd, cacheCmd, initCmd, addCmd, removeCmd, installCmd, updateCmd,
  outdatedCmd, treeCmd, whyCmd, graphCmd, buildCmd, runCmd, sizeCmd, auditCmd, importCmd, verifyCmd,
];

/**
 * The registration of each top-level command name and alias (test/cli/commands.test.ts checks
 * it against the tree ALL builds: every name of that tree is here, and each registration alone
 * builds a command identical to the full tree's).
 */
const BY_NAME: ReadonlyMap<string, Register> = new Map<string, Register>([
  ['validate', validateCmd], ['pack', packCmd], ['inspect', inspectCmd], ['publish', publishCmd], ['yank', yankCmd],
  ['info', infoCmd], ['search', searchCmd], ['login', loginCmd], ['logout', registerAccount], ['whoami', registerAccount],
  ['config', configCmd], ['doctor', doctorCmd], ['new', newCmd], ['registry', registryCmd], ['cache', cacheCmd],
  ['init', initCmd], ['add', addCmd], ['remove', removeCmd], ['rm', removeCmd], ['install', installCmd], ['i', installCmd],
  ['update', updateCmd], ['outdated', outdatedCmd], ['tree', treeCmd], ['why', whyCmd], ['graph', graphCmd],
  ['build', buildCmd], ['run', runCmd], ['size', sizeCmd], ['audit', auditCmd], ['import', importCmd], ['verify', verifyCmd],
]);

export function registerAll(program: Command): void {
  for (const register of ALL) register(program);
}

/**
 * Registers only the command called `name` (and whatever its registration brings along), or
 * nothing and returns false when no command has that name. A run of one command need not build
 * the other ~30 commands and their ~150 options (2–4 ms of every start-up); `--help`, `help`
 * and unknown words (whose error suggests the nearest command) take the whole tree.
 */
export function registerOnly(program: Command, name: string): boolean {
  const register = BY_NAME.get(name);
  if (register === undefined) return false;
  register(program);
  return true;
}
