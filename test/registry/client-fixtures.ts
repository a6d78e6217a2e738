/**
 * Fixtures for the registry client tests: tiny valid component directories packed on the fly,
 * temp homes, tree hashing (RELIABILITY.md: caches byte-identical after a failed operation),
 * and a scriptable HTTP registry on 127.0.0.1 for fault injection.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, lstatSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packComponent, type PackResult } from '../../components/index.js';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `rumpkg-${prefix}-`));
}

export interface FixtureComponent {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  provides?: string[];
  requires?: string[];
  /** Known providers of required capabilities (`rump.providers`). */
  providers?: Record<string, string[]>;
  anyOf?: string[][];
  aliases?: string[];
  description?: string;
  targets?: string[];
  /** Extra bytes in the archive, to vary sizes. */
  payload?: number;
}

/** Writes a minimal valid component directory and returns it. */
export function componentDir(root: string, c: FixtureComponent): string {
  const base = c.name.replace(/^@[^/]+\//, '');
  const dir = join(root, `${base}-${c.version}`);
  const lib = `librump_${base.replace(/[^a-z0-9]/g, '_')}`;
  const targets: Record<string, { archive: string }> = {};
  for (const t of c.targets ?? ['posix-x86_64']) {
    mkdirSync(join(dir, 'lib', t), { recursive: true });
    writeFileSync(join(dir, 'lib', t, `${lib}.a`), Buffer.concat([Buffer.from('!<arch>\n'), Buffer.alloc(c.payload ?? 0, 0x61)]));
    targets[t] = { archive: `lib/${t}/${lib}.a` };
  }
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify(
      {
        name: c.name,
        version: c.version,
        license: 'BSD-2-Clause',
        description: c.description ?? `${base} test component`,
        dependencies: c.dependencies ?? {},
        keywords: (c.provides ?? []).map((p) => `rump-provides:${p}`),
        rump: {
          schemaVersion: 1,
          kind: 'component',
          lib,
          aliases: c.aliases ?? [],
          faction: 'net',
          initLevels: ['RUMP_COMPONENT_NET'],
          requires: c.requires ?? [],
          ...(c.providers === undefined ? {} : { providers: c.providers }),
          provides: c.provides ?? [],
          conflicts: [],
          ...(c.anyOf === undefined ? {} : { anyOf: c.anyOf }),
          optionalDependencies: {},
          targets,
        },
      },
      null,
      2,
    )}\n`,
  );
  return dir;
}

export interface PackedFixture extends PackResult {
  /** The raw package.json of the component (what the tarball holds). */
  packageJson: Record<string, unknown>;
  dir: string;
}

export async function packFixture(root: string, c: FixtureComponent): Promise<PackedFixture> {
  const dir = componentDir(root, c);
  const packed = await packComponent(dir);
  return { ...packed, dir, packageJson: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown> };
}

/** sha256 over every path, type and content under `dir` (missing dir → 'absent'). */
/** A hash of every path and byte under `dir`; `skip` leaves out top-level entries (e.g. a temp area). */
export function hashTree(dir: string, options: { skip?: string[] } = {}): string {
  const h = createHash('sha256');
  const walk = (d: string, rel: string): void => {
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      h.update(`absent:${rel}\n`);
      return;
    }
    for (const n of names) {
      if (rel === '' && options.skip?.includes(n) === true) continue;
      const p = join(d, n);
      const r = `${rel}/${n}`;
      const s = lstatSync(p);
      if (s.isDirectory()) {
        h.update(`d:${r}\n`);
        walk(p, r);
      } else {
        h.update(`f:${r}:`);
        h.update(readFileSync(p));
        h.update('\n');
      }
    }
  };
  walk(dir, '');
  return h.digest('hex');
}

/** Every file's bytes under `dir`, for "the token appears nowhere" checks. */
export function filesUnder(dir: string): Array<{ path: string; data: Buffer }> {
  const out: Array<{ path: string; data: Buffer }> = [];
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      const s = lstatSync(p);
      if (s.isDirectory()) walk(p);
      else if (s.isFile()) out.push({ path: p, data: readFileSync(p) });
    }
  };
  walk(dir);
  return out;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void | Promise<void>;

export interface TestServer {
  url: string;
  port: number;
  hits: string[];
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 with a random port running `handler` for every request. */
export async function startServer(handler: Handler): Promise<TestServer> {
  const hits: string[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      Promise.resolve(handler(req, res, Buffer.concat(chunks))).catch(() => res.destroy());
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    hits,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A packument for one packed component, with the tarball at `tarballUrl`. */
export function packumentFor(p: PackedFixture, tarballUrl: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const pj = p.packageJson;
  return {
    name: p.manifest.name,
    'dist-tags': { latest: p.manifest.version },
    versions: {
      [p.manifest.version]: {
        ...pj,
        dist: { tarball: tarballUrl, integrity: p.integrity, shasum: createHash('sha1').update(p.data).digest('hex') },
        ...extra,
      },
    },
    time: {},
  };
}
