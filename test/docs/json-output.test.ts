/**
 * Every `--json` output, as documented in docs/json-output.md (shapes in
 * scripts/docs/json-shapes.ts, also written as docs/json-output.schema.json): one scenario
 * runs every command that prints JSON against real registries (the embedded file registry with the
 * miniature corpus, rumpkg's server on loopback) and a real project with a real image, and each
 * document must validate against its shape. A command whose output grows a key nobody documented
 * fails here (the shapes close their top-level objects), and so does a documented shape no
 * command exercises.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRegistryServer, type RegistryServer } from '../../registry/index.js';
import { SCHEMAS } from '../../schemas/index.js';
import { JSON_SHAPES, jsonShapesSchema } from '../../scripts/docs/index.js';
import { corpusDir } from '../helpers/corpus.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../registry/client-fixtures.js';

const ROOT = resolve(import.meta.dirname, '../..');
const work = tempDir('json-output');
const home = join(work, 'home');
const outputs = new Map<string, unknown[]>();
let server: RegistryServer;
let corpus: string;

function record(shape: string, doc: unknown): void {
  outputs.set(shape, [...(outputs.get(shape) ?? []), doc]);
}

/** Runs `rumpkg --json ARGV` in-process and records its document under `shape`. */
async function json(shape: string, argv: string[], options: { code?: number } = {}): Promise<any> {
  const r = await runCli(['--json', ...argv]);
  expect(r.code, `${argv.join(' ')}\n${r.stderr}\n${r.stdout.slice(0, 2000)}`).toBe(options.code ?? 0);
  const doc = JSON.parse(r.stdout) as unknown;
  record(shape, doc);
  return doc;
}

beforeAll(async () => {
  vi.stubEnv('RUMPKG_HOME', home);
  vi.stubEnv('NO_COLOR', '1');
  corpus = await corpusDir();
  server = await createRegistryServer(join(work, 'served'), { port: 0 });
}, 600_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  await server?.close();
});

describe('--json outputs', () => {
  it('every command prints a document of its documented shape', async () => {
    const tcpip = join(corpus, '10.1.0', 'tcpip');
    // Components.
    await json('validate', ['validate', tcpip]);
    await json('validate', ['validate', join(ROOT, 'package.json'), '--kind', 'lockfile'], { code: 1 });
    await json('pack', ['pack', tcpip, '-o', join(work, 'tcpip.tgz')]);
    await json('inspect', ['inspect', join(work, 'tcpip.tgz')]);
    const dirs = ['10.0.0', '10.1.0'].flatMap((v) => readdirSync(join(corpus, v)).map((n) => join(corpus, v, n)));
    await json('publish', ['publish', ...dirs]);
    await json('info', ['info', 'tcpip']);
    await json('search', ['search', 'tcpip']);
    await json('yank', ['yank', 'virtif@10.0.0', '--reason', 'test']);
    await json('yank', ['yank', 'virtif@10.0.0', '--undo']);
    // Configuration and accounts.
    await json('config', ['config', 'list']);
    await json('config-value', ['config', 'set', '@other:registry', server.url]);
    await json('config-value', ['config', 'get', 'defaultScope']);
    await json('config', ['config', 'delete', '@other:registry']);
    const token = await server.tokens.add('alice');
    const stdin = process.stdin as unknown as { [Symbol.asyncIterator]: () => Iterator<Buffer> };
    const spy = vi.spyOn(stdin, Symbol.asyncIterator).mockImplementation(() => [Buffer.from(`${token}\n`)][Symbol.iterator]());
    await json('login', ['login', '--registry', server.url]);
    spy.mockRestore();
    await json('whoami', ['whoami', '--registry', server.url]);
    await json('logout', ['logout', '--registry', server.url]);
    await json('registry-token-add', ['registry', 'token', 'add', 'bob', '--dir', join(work, 'served')]);
    await json('registry-token-list', ['registry', 'token', 'list', '--dir', join(work, 'served')]);
    await json('registry-token-revoke', ['registry', 'token', 'revoke', 'bob', '--dir', join(work, 'served')]);
    await json('doctor', ['doctor', '--offline', '--target', 'posix-x86_64']);
    await json('new-component', ['--cwd', work, 'new', 'component', 'hello']);

    // A project.
    const p = join(work, 'project');
    mkdirSync(p, { recursive: true });
    cpSync(join(ROOT, 'examples', 'hello-net', 'app.c'), join(p, 'app.c'));
    await json('init', ['--cwd', p, 'init', '--name', 'demo', '--target', 'posix-x86_64']);
    await json('project-result', ['--cwd', p, 'add', 'tcpip@~10.0.0', 'virtif', 'net-config']);
    await json('project-result', ['--cwd', p, 'install']);
    await json('outdated', ['--cwd', p, 'outdated']);
    await json('tree', ['--cwd', p, 'tree']);
    await json('why', ['--cwd', p, 'why', 'net']);
    await json('graph', ['--cwd', p, 'graph']);
    await json('build-plan', ['--cwd', p, 'build', '--dry-run']);
    await json('build', ['--cwd', p, 'build']);
    await json('run', ['--cwd', p, 'run']);
    const image = join(p, 'build', 'posix-x86_64', 'demo');
    await json('size', ['--cwd', p, 'size', image]);
    await json('audit', ['--cwd', p, 'audit', image]);
    await json('audit', ['--cwd', p, 'audit', '--no-registry']);
    await json('audit', ['--cwd', p, 'audit', image, '--deny', 'BSD-2-Clause'], { code: 3 });
    await json('project-result', ['--cwd', p, 'update']);
    await json('project-result', ['--cwd', p, 'remove', 'virtif']);
    await json('verify', ['--cwd', p, 'verify']);
    await json('verify-upstream', ['--cwd', p, 'verify', '--upstream', '--github-url', 'http://127.0.0.1:9/']);
    await json('cache-ls', ['cache', 'ls']);
    await json('cache-verify', ['cache', 'verify']);

    // Importing archives (the corpus's, standing in for a NetBSD build's librump*.a).
    const libs = join(work, 'libs');
    mkdirSync(libs, { recursive: true });
    for (const n of ['base', 'net', 'tcpip']) {
      const dir = join(corpus, '10.1.0', n, 'lib', 'posix-x86_64');
      for (const f of readdirSync(dir)) cpSync(join(dir, f), join(libs, f));
    }
    await json('import-archives', ['--cwd', work, 'import', 'archives', libs, '--target', 'posix-x86_64', '--version', '10.1.0', '-o', join(work, 'imported')]);

    // Errors: one shape for every command.
    await json('error', ['info', 'no-such-component-xyz'], { code: 1 });
    await json('error', ['--cwd', work, 'tree'], { code: 1 });
    await json('cache-clean', ['cache', 'clean']);

    // `registry serve --json`: the address, then one line per request.
    if (existsSync(join(ROOT, 'dist', 'rumpkg.cjs'))) {
      const lines = await serveLines(join(work, 'served'));
      record('registry-serve', lines[0]);
      for (const l of lines.slice(1)) record('registry-serve-event', l);
    }

    // Validate.
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    for (const schema of Object.values(SCHEMAS)) ajv.addSchema(schema as object);
    ajv.addSchema(jsonShapesSchema());
    const failures: string[] = [];
    for (const [shape, docs] of outputs) {
      const validate = ajv.getSchema(`urn:rumpkg:schema:json-output:1#/$defs/${shape}`);
      if (validate === undefined) {
        failures.push(`${shape}: no documented shape`);
        continue;
      }
      docs.forEach((d, i) => {
        if (!validate(d)) failures.push(`${shape}[${i}]: ${ajv.errorsText(validate.errors, { separator: '\n  ' })}`);
      });
    }
    if (process.env.RUMPKG_DUMP_JSON !== undefined) {
      mkdirSync(process.env.RUMPKG_DUMP_JSON, { recursive: true });
      for (const [shape, docs] of outputs) writeFileSync(join(process.env.RUMPKG_DUMP_JSON, `${shape}.json`), JSON.stringify(docs, null, 2));
    }
    expect(failures).toEqual([]);
    // Every documented shape was exercised.
    expect(Object.entries(JSON_SHAPES).filter(([s, v]) => v.part !== true && !outputs.has(s)).map(([s]) => s)).toEqual([]);
  }, 600_000);
});

/** Starts `rumpkg --json registry serve DIR --port 0`, asks it for one packument and a ping, stops it. */
function serveLines(dir: string): Promise<unknown[]> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'rumpkg.cjs'), '--json', 'registry', 'serve', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUMPKG_HOME: home } });
    let out = '';
    let asked = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      const first = out.indexOf('\n}\n');
      if (!asked && first >= 0) {
        asked = true;
        const { url } = JSON.parse(out.slice(0, first + 2)) as { url: string };
        void fetch(`${url}/-/ping`)
          .then(() => fetch(`${url}/@rump%2fno-such`))
          .then(() => setTimeout(() => child.kill('SIGTERM'), 200), fail);
      }
    });
    child.on('error', fail);
    child.on('close', () => {
      const first = out.indexOf('\n}\n');
      done([JSON.parse(out.slice(0, first + 2)), ...out.slice(first + 3).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown)]);
    });
  });
}
