/**
 * `rumpkg config list | get KEY | set KEY VALUE | delete KEY`: the user's `$RUMPKG_HOME/config.json`
 * (registry/home config.ts). Keys: `defaultScope`, `registry` (the default scope's registry) and
 * `@SCOPE:registry`. A project's own `registries` in rumpkg.json still win for that project.
 */
import type { Command } from 'commander';
import { globalOptions, print, printJson } from '../output.js';

export function register(program: Command): void {
  const config = program.command('config').description('show or change $RUMPKG_HOME/config.json (default scope, registry per scope)');

  config
    .command('list')
    .description('every setting, one KEY=VALUE per line')
    .action(async (_opts: unknown, cmd: Command) => {
      const g = globalOptions(cmd);
      const { readConfig, resolveHome, configEntries } = await import('../../registry/index.js');
      const c = await readConfig(resolveHome());
      if (g.json) printJson(c);
      else for (const [k, v] of configEntries(c)) print(`${k}=${v}`);
    });

  config
    .command('get')
    .description('the value of one key')
    .argument('<key>', 'defaultScope, registry or @SCOPE:registry')
    .action(async (key: string, _opts: unknown, cmd: Command) => {
      const g = globalOptions(cmd);
      const { readConfig, resolveHome, getConfigValue } = await import('../../registry/index.js');
      const value = getConfigValue(await readConfig(resolveHome()), key);
      if (g.json) printJson({ key, value });
      else print(value);
    });

  config
    .command('set')
    .description('set one key (registry URLs: file:DIR or http(s)://HOST/)')
    .argument('<key>', 'defaultScope, registry or @SCOPE:registry')
    .argument('<value>', 'a scope for defaultScope, a registry URL otherwise')
    .action(async (key: string, value: string, _opts: unknown, cmd: Command) => {
      const g = globalOptions(cmd);
      const { ensureHome, resolveHome, updateConfig, getConfigValue } = await import('../../registry/index.js');
      const home = resolveHome();
      await ensureHome(home);
      const c = await updateConfig(home, key, value, { base: g.cwd });
      if (g.json) printJson({ key, value: getConfigValue(c, key) });
      else print(`${key}=${getConfigValue(c, key)}`);
    });

  config
    .command('delete')
    .description('remove one key (a scope the defaults pin gets its default back)')
    .argument('<key>', 'defaultScope, registry or @SCOPE:registry')
    .action(async (key: string, _opts: unknown, cmd: Command) => {
      const g = globalOptions(cmd);
      const { ensureHome, resolveHome, updateConfig, configEntries } = await import('../../registry/index.js');
      const home = resolveHome();
      await ensureHome(home);
      const c = await updateConfig(home, key, undefined);
      if (g.json) printJson(c);
      else for (const [k, v] of configEntries(c)) print(`${k}=${v}`);
    });
}
