/**
 * `rumpkg login --registry URL`: reads a token from stdin (piped, or typed with echo off on a
 * terminal) and stores it in `$RUMPKG_HOME/credentials.json` (mode 0600). The token is never
 * printed, logged or written anywhere else.
 */
import type { Command } from 'commander';
import { globalOptions, print, printJson } from '../output.js';

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
