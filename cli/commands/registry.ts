/**
 * `rumpkg registry serve DIR [--host H] [--port P]` — serve a file registry over the npm
 * registry protocol until SIGINT/SIGTERM, with its web UI at `/`.
 * `rumpkg registry token add NAME [--dir DIR]` — print a new publish token for user NAME (the
 * registry keeps only its sha256). `rumpkg registry token revoke NAME [--dir DIR]`, `token list`.
 * DIR defaults to the embedded registry under the rumpkg home.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { globalOptions, print, printJson, table, type GlobalOptions } from '../output.js';

async function registryDir(g: GlobalOptions, dir: string | undefined): Promise<string> {
  if (dir !== undefined) return resolve(g.cwd, dir);
  const { resolveHome, homePaths } = await import('../../registry/index.js');
  return homePaths(resolveHome()).registry;
}

async function parsePort(v: string | undefined): Promise<number> {
  if (v === undefined) return 0;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    const { RumpkgError } = await import('../../components/index.js');
    throw new RumpkgError('E_USAGE', `invalid --port ${JSON.stringify(v)}`, { hint: 'use a port number between 0 and 65535 (0 picks a free one)' });
  }
  return n;
}

export function register(program: Command): void {
  const registry = program.command('registry').description('run and administer a rumpkg registry');

  registry
    .command('serve')
    .description('serve a registry directory over the npm registry protocol (stops on Ctrl-C)')
    .argument('[dir]', 'registry directory (default: the embedded registry under $RUMPKG_HOME)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', '4873')
    .option('--public-url <url>', 'URL clients reach the server under (behind a proxy)')
    .option('--max-body <bytes>', 'largest accepted request body in bytes')
    .action(async (dir: string | undefined, opts: { host: string; port: string; publicUrl?: string; maxBody?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { RumpkgError } = await import('../../components/index.js');
      const { createRegistryServer } = await import('../../registry/index.js');
      // The web UI's dependency graphs are drawn by the packager (Graphviz in WebAssembly).
      const { renderResolutionSvg } = await import('../../packager/index.js');
      const root = await registryDir(g, dir);
      const maxBody = opts.maxBody === undefined ? undefined : Number(opts.maxBody);
      if (maxBody !== undefined && (!Number.isInteger(maxBody) || maxBody <= 0)) {
        throw new RumpkgError('E_USAGE', `invalid --max-body ${JSON.stringify(opts.maxBody)}`, { hint: 'give a positive number of bytes' });
      }
      const server = await createRegistryServer(root, {
        host: opts.host,
        port: await parsePort(opts.port),
        ...(opts.publicUrl === undefined ? {} : { publicUrl: opts.publicUrl }),
        ...(maxBody === undefined ? {} : { limits: { maxBodyBytes: maxBody } }),
        web: { renderGraph: renderResolutionSvg },
        log: (ev) => {
          if (g.json) process.stdout.write(`${JSON.stringify(ev)}\n`);
          else if (g.verbose || ev.status >= 500) {
            process.stderr.write(`${ev.method} ${ev.path} ${ev.status} ${ev.ms}ms${ev.user ? ` ${ev.user}` : ''}${ev.code ? ` ${ev.code}` : ''}\n`);
          }
        },
      });
      if (g.json) printJson({ url: server.url, dir: root });
      else print(server.url);
      if (!g.quiet && !g.json) process.stderr.write(`serving ${root}; press Ctrl-C to stop\n`);
      await new Promise<void>((done) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void server.close().then(done);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });

  const token = registry.command('token').description('publish tokens of a registry directory');

  token
    .command('add')
    .description('create a publish token for user NAME and print it (shown once)')
    .argument('<name>', 'user name (the owner recorded for what they publish)')
    .option('--dir <dir>', 'registry directory (default: the embedded registry)')
    .action(async (name: string, opts: { dir?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { createTokenStore } = await import('../../registry/index.js');
      const root = await registryDir(g, opts.dir);
      const t = await createTokenStore(root).add(name);
      if (g.json) printJson({ user: name, token: t, dir: root });
      else print(t);
    });

  token
    .command('revoke')
    .description('revoke every token of user NAME')
    .argument('<name>', 'user name')
    .option('--dir <dir>', 'registry directory (default: the embedded registry)')
    .action(async (name: string, opts: { dir?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { createTokenStore } = await import('../../registry/index.js');
      const root = await registryDir(g, opts.dir);
      const n = await createTokenStore(root).revoke(name);
      const { RumpkgError } = await import('../../components/index.js');
      if (n === 0) throw new RumpkgError('E_NOT_FOUND', `user ${name} has no live token in ${root}`, { context: { user: name, dir: root } });
      if (g.json) printJson({ user: name, revoked: n });
      else print(`revoked ${n} token${n === 1 ? '' : 's'} of ${name}`);
    });

  token
    .command('list')
    .description('list users with live tokens (never the tokens)')
    .option('--dir <dir>', 'registry directory (default: the embedded registry)')
    .action(async (opts: { dir?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { createTokenStore } = await import('../../registry/index.js');
      const users = await createTokenStore(await registryDir(g, opts.dir)).list();
      if (g.json) printJson(users);
      else if (users.length > 0) print(table([['USER', 'TOKENS'], ...users.map((u) => [u.user, String(u.tokens)])]));
    });
}
