/**
 * The account commands:
 * - `rumpkg login --registry URL`: reads a token from stdin (piped, or typed with echo off on a
 *   terminal) and stores it in `$RUMPKG_HOME/credentials.json` (mode 0600). The token is never
 *   printed, logged or written anywhere else.
 * - `rumpkg whoami [--registry URL]`: who the stored token of the registry belongs to (npm's
 *   `GET /-/whoami`); default: the registry of the default scope.
 * - `rumpkg logout [--registry URL]`: forgets the stored token (the registry itself keeps it
 *   valid until it is revoked there).
 */
import type { Command } from 'commander';
import { globalOptions, print, printJson, warn, type GlobalOptions } from '../output.js';

async function readSecret(): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY === true && typeof stdin.setRawMode === 'function') {
    process.stderr.write('token: ');
    stdin.setRawMode(true);
    stdin.resume();
    return new Promise<string>((resolve, reject) => {
      let buf = '';
      const onData = (d: Buffer): void => {
        for (const ch of d.toString('utf8')) {
          if (ch === '\r' || ch === '\n' || ch === '\u0004') {
            finish();
            resolve(buf);
            return;
          }
          if (ch === '\u0003') {
            finish();
            reject(new Error('interrupted'));
            return;
          }
          if (ch === '\u007f' || ch === '\b') buf = buf.slice(0, -1);
          else buf += ch;
        }
      };
      const finish = (): void => {
        stdin.off('data', onData);
        stdin.setRawMode(false);
        stdin.pause();
        process.stderr.write('\n');
      };
      stdin.on('data', onData);
    });
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of stdin) {
    total += (c as Buffer).length;
    if (total > 64 * 1024) break;
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function register(program: Command): void {
  program
    .command('login')
    .description('store a registry token read from stdin (credentials file, mode 0600)')
    .requiredOption('--registry <url>', 'the registry the token is for')
    .option('--no-verify', 'store the token without asking the registry who it belongs to')
    .action(async (opts: { registry: string; verify: boolean }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { normalizeRegistryUrl, resolveHome, ensureHome, storeToken, redactUrl, registryRequest, DEFAULT_LIMITS } = await import('../../registry/index.js');
      const { RumpkgError } = await import('../../components/index.js');
      const url = normalizeRegistryUrl(opts.registry, { base: g.cwd });
      if (url.startsWith('file:')) {
        throw new RumpkgError('E_USAGE', 'file: registries need no login', { hint: 'log in to http(s) registries only' });
      }
      const home = resolveHome();
      await ensureHome(home);
      const token = (await readSecret()).trim();
      if (token === '') throw new RumpkgError('E_USAGE', 'no token on standard input', { hint: 'pipe the token in: rumpkg login --registry URL < token-file' });
      // npm's GET /-/whoami: a token the registry does not accept is never stored (401/403 →
      // E_REGISTRY_AUTH); the request goes to the registry's origin only, without redirects.
      let username: string | undefined;
      if (opts.verify) {
        const r = await registryRequest({
          method: 'GET',
          url: new URL('-/whoami', url.endsWith('/') ? url : `${url}/`).href,
          registry: url,
          token,
          what: 'the login token',
          limits: { ...DEFAULT_LIMITS, retries: 1 },
        });
        const u = (r.body as { username?: unknown } | undefined)?.username;
        username = typeof u === 'string' ? u : undefined;
      }
      await storeToken(home, url, { token });
      if (g.json) printJson({ registry: redactUrl(url), stored: true, ...(username === undefined ? {} : { username }) });
      else print(`logged in to ${redactUrl(url)}${username === undefined ? '' : ` as ${username}`} (token stored in ${home}/credentials.json, mode 0600)`);
    });
}

/** The registry an account command is about: `--registry`, else the default scope's (http only). */
async function accountRegistry(g: GlobalOptions, registry: string | undefined, verb: string): Promise<{ url: string; home: string }> {
  const { openRegistryClient, resolveHome } = await import('../../registry/index.js');
  const { RumpkgError } = await import('../../components/index.js');
  const { registries, config } = await openRegistryClient({ cwd: g.cwd, ...(registry === undefined ? {} : { registry }) });
  const url = registries[config.defaultScope];
  if (url === undefined) {
    throw new RumpkgError('E_SCOPE', `no registry is configured for the default scope ${config.defaultScope}`, { hint: `pass --registry URL, or rumpkg config set ${config.defaultScope}:registry URL` });
  }
  if (url.startsWith('file:')) {
    throw new RumpkgError('E_USAGE', `${url} is a file: registry: it has no accounts (whoever can write the directory publishes to it), so there is nothing to ${verb}`, {
      context: { registry: url },
      hint: `name an http(s) registry: rumpkg ${verb} --registry http://HOST:PORT/`,
    });
  }
  return { url, home: resolveHome() };
}

export function registerAccount(program: Command): void {
  program
    .command('whoami')
    .description('show the user the stored token of a registry belongs to (asks the registry)')
    .option('--registry <url>', 'the registry (default: the registry of the default scope)')
    .action(async (opts: { registry?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { url, home } = await accountRegistry(g, opts.registry, 'whoami');
      const { readToken, redactUrl, registryRequest, DEFAULT_LIMITS } = await import('../../registry/index.js');
      const { RumpkgError } = await import('../../components/index.js');
      const token = await readToken(home, url);
      if (token === undefined) {
        throw new RumpkgError('E_REGISTRY_AUTH', `not logged in to ${redactUrl(url)}`, {
          context: { registry: redactUrl(url) },
          hint: `rumpkg login --registry ${redactUrl(url)} < token-file`,
        });
      }
      const r = await registryRequest({
        method: 'GET',
        url: new URL('-/whoami', url).href,
        registry: url,
        token,
        what: 'whoami',
        limits: { ...DEFAULT_LIMITS, retries: 1 },
      });
      const u = (r.body as { username?: unknown } | undefined)?.username;
      if (typeof u !== 'string' || u === '') {
        throw new RumpkgError('E_REGISTRY', `${redactUrl(url)} answered /-/whoami without a user name`, { context: { registry: redactUrl(url) } });
      }
      if (g.json) printJson({ registry: redactUrl(url), username: u });
      else print(u);
    });

  program
    .command('logout')
    .description("forget the stored token of a registry (the registry keeps it valid until it is revoked there)")
    .option('--registry <url>', 'the registry (default: the registry of the default scope)')
    .action(async (opts: { registry?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { url, home } = await accountRegistry(g, opts.registry, 'logout');
      const { removeToken, redactUrl } = await import('../../registry/index.js');
      const removed = await removeToken(home, url);
      if (g.json) printJson({ registry: redactUrl(url), removed });
      else if (removed) print(`logged out of ${redactUrl(url)} (token removed from ${home}/credentials.json; revoke it on the registry to end it there)`);
      else warn(`no token was stored for ${redactUrl(url)}`);
    });
}
