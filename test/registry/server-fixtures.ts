/**
 * Fixtures for the registry storage and server tests: component tarballs packed on the fly with
 * packComponent, npm-style publish bodies, raw HTTP requests (paths sent byte for byte, no URL
 * normalisation), and a tree hash to prove failed operations change nothing.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, lstatSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packComponent, type PackResult } from '../../components/index.js';
import { manifestJson, writeComponentDir } from '../helpers/tar.js';

export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `rumpkg-${label}-`));
}

export interface FixtureSpec {
  name?: string;
  version?: string;
  dependencies?: Record<string, string>;
  description?: string;
  keywords?: string[];
  lib?: string;
  aliases?: string[];
  /** Extra bytes in the archive, to make tarballs of one version differ. */
  salt?: string;
}

/** Packs a small valid component (a fresh directory each time). */
export async function packFixture(spec: FixtureSpec = {}): Promise<PackResult> {
  const base = manifestJson();
  const rump = { ...(base.rump as Record<string, unknown>) };
  if (spec.lib !== undefined) rump.lib = spec.lib;
  if (spec.aliases !== undefined) rump.aliases = spec.aliases;
  const manifest = {
    ...base,
    name: spec.name ?? '@rump/tcpip',
    version: spec.version ?? '10.0.0',
    description: spec.description ?? base.description,
    dependencies: spec.dependencies ?? {},
    ...(spec.keywords === undefined ? {} : { keywords: spec.keywords }),
    rump,
  };
  const dir = tempDir('fixture');
  writeComponentDir(dir, spec.salt === undefined ? {} : { 'lib/posix-x86_64/librumpnet_netinet.a': `!<arch>\n${spec.salt}` }, manifest);
  return packComponent(dir);
}

/** The body `npm publish` sends for `pack` (libnpmpublish shape). `mutate` edits the version doc. */
export function npmPublishBody(
  pack: PackResult,
  options: { registryUrl?: string; tag?: string; mutate?: (versionDoc: Record<string, unknown>) => void } = {},
): Record<string, unknown> {
  const pkg = JSON.parse(JSON.stringify(pack.manifest)) as Record<string, unknown>;
  const name = String(pkg.name);
  const version = String(pkg.version);
  const file = `${name.includes('/') ? name.split('/')[1] : name}-${version}.tgz`;
  const doc: Record<string, unknown> = {
    ...pkg,
    _id: `${name}@${version}`,
    _nodeVersion: process.versions.node,
    _npmVersion: '11.0.0',
    dist: {
      integrity: pack.integrity,
      shasum: createHash('sha1').update(pack.data).digest('hex'),
      tarball: `${options.registryUrl ?? 'http://127.0.0.1:1'}/${name}/-/${file}`,
    },
  };
  options.mutate?.(doc);
  return {
    _id: name,
    name,
    description: pkg.description,
    'dist-tags': { [options.tag ?? 'latest']: version },
    versions: { [version]: doc },
    access: null,
    _attachments: { [file]: { content_type: 'application/octet-stream', data: pack.data.toString('base64'), length: pack.data.length } },
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json(): unknown;
}

/** An HTTP request whose path is sent exactly as given. */
export function raw(
  baseUrl: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string>; rawBody?: Buffer | string } = {},
): Promise<RawResponse> {
  const u = new URL(baseUrl);
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
          ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const b = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, json: () => JSON.parse(b.toString('utf8')) as unknown });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** sha256 over every path (with its type and mode) and file content under `dir`. */
export function hashTree(dir: string): string {
  const h = createHash('sha256');
  const walk = (rel: string): void => {
    const abs = join(dir, rel);
    for (const e of readdirSync(abs).sort()) {
      const r = rel === '' ? e : `${rel}/${e}`;
      const st = lstatSync(join(dir, r));
      h.update(`${r}\0${st.isDirectory() ? 'd' : st.isFile() ? 'f' : 'o'}\0${st.mode}\0`);
      if (st.isSymbolicLink()) h.update(`${readlinkSync(join(dir, r))}\0`);
      if (st.isDirectory()) walk(r);
      else if (st.isFile()) h.update(readFileSync(join(dir, r)));
    }
  };
  walk('');
  return h.digest('hex');
}

/** Every file under `dir` (relative paths), sorted. */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(dir, rel)).sort()) {
      const r = rel === '' ? e : `${rel}/${e}`;
      // statSync: a name's link to its generation is walked like the directory it shows.
      if (statSync(join(dir, r)).isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk('');
  return out;
}
