/**
 * Publish tokens of a registry directory (`<dir>/.registry/tokens.json`, mode 0600).
 *
 * Contract: a token is 32 random bytes, shown once (`rumpkg_` + base64url) and stored only as
 * its sha256 (hex). A token never appears in this file, in errors or in logs; a revoked token is
 * kept (marked `revoked`) so it can never authenticate again. Writes are atomic (temp + fsync +
 * rename) under the directory's token lock.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { RumpkgError, fsError, isRumpkgError, parseJsonDocument } from '../../components/index.js';
import { withLock } from '../storage/index.js';

interface TokenRecord {
  user: string;
  /** Hex sha256 of the token. */
  sha256: string;
  created: string;
  revoked?: string;
}

interface TokenFile {
  tokensVersion: 1;
  tokens: TokenRecord[];
}

const USER_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Validates a user name (the owner recorded in packuments). */
function checkUserName(user: string): string {
  if (!USER_RE.test(user)) {
    throw new RumpkgError('E_USAGE', `invalid user name ${JSON.stringify(user.slice(0, 80))}`, {
      hint: 'use 1-64 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit',
    });
  }
  return user;
}

export interface TokenStore {
  /** Creates a token for `user`; returns the token (the only time it exists in clear). */
  add(user: string): Promise<string>;
  /** Revokes every token of `user`; returns how many were revoked. */
  revoke(user: string): Promise<number>;
  /** The user a token belongs to, or undefined when unknown or revoked. */
  authenticate(token: string): Promise<string | undefined>;
  /** Users with at least one live token. */
  list(): Promise<Array<{ user: string; tokens: number }>>;
}

/** The token store of registry directory `dir` (`now` is injectable for tests). */
export function createTokenStore(dir: string, options: { now?: () => Date } = {}): TokenStore {
  const meta = join(dir, '.registry');
  const file = join(meta, 'tokens.json');
  const now = options.now ?? (() => new Date());
  let cache: { mtimeMs: number; size: number; data: TokenFile } | undefined;

  async function read(): Promise<TokenFile> {
    let st;
    try {
      st = await stat(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { tokensVersion: 1, tokens: [] };
      throw fsError(e, file, 'read');
    }
    if (cache && cache.mtimeMs === st.mtimeMs && cache.size === st.size) return cache.data;
    let data: TokenFile;
    try {
      data = parseJsonDocument(await readFile(file), { file }) as TokenFile;
    } catch (e) {
      if (isRumpkgError(e, 'E_JSON_PARSE') || isRumpkgError(e, 'E_SCHEMA')) {
        // Only where the problem is: the file holds token hashes and user names.
        throw new RumpkgError(e.code, `cannot read the token file ${file}${typeof e.context.pointer === 'string' && e.context.pointer !== '' ? ` at ${e.context.pointer}` : ''}: ${e.code === 'E_SCHEMA' ? 'a duplicate, oversized or forbidden key' : 'invalid JSON'}`, { context: { path: file } });
      }
      throw fsError(e, file, 'read');
    }
    if (data === null || typeof data !== 'object' || data.tokensVersion !== 1 || !Array.isArray(data.tokens)) {
      throw new RumpkgError('E_SCHEMA', `unexpected token file format in ${file}`, { context: { path: file } });
    }
    cache = { mtimeMs: st.mtimeMs, size: st.size, data };
    return data;
  }

  async function write(data: TokenFile): Promise<void> {
    const tmp = join(meta, 'tmp', `tokens-${process.pid}-${randomBytes(6).toString('hex')}.json`);
    try {
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(`${JSON.stringify(data, null, 2)}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw fsError(e, file, 'write');
    }
    cache = undefined;
  }

  async function update<T>(fn: (d: TokenFile) => T): Promise<T> {
    await mkdir(join(meta, 'tmp'), { recursive: true, mode: 0o700 });
    await mkdir(join(meta, 'locks'), { recursive: true, mode: 0o700 });
    return withLock(join(meta, 'locks', 'tokens.lock'), async () => {
      const d = await read();
      const copy: TokenFile = { tokensVersion: 1, tokens: d.tokens.map((t) => ({ ...t })) };
      const r = fn(copy);
      await write(copy);
      return r;
    }, { what: 'the token file' });
  }

  return {
    async add(user) {
      checkUserName(user);
      const token = `rumpkg_${randomBytes(32).toString('base64url')}`;
      await update((d) => d.tokens.push({ user, sha256: hashToken(token), created: now().toISOString() }));
      return token;
    },
    async revoke(user) {
      checkUserName(user);
      return update((d) => {
        let n = 0;
        for (const t of d.tokens) {
          if (t.user === user && t.revoked === undefined) {
            t.revoked = now().toISOString();
            n++;
          }
        }
        return n;
      });
    },
    async authenticate(token) {
      if (token.length === 0 || token.length > 1024) return undefined;
      const h = Buffer.from(hashToken(token), 'hex');
      const d = await read();
      let user: string | undefined;
      for (const t of d.tokens) {
        const th = Buffer.from(t.sha256, 'hex');
        if (th.length === h.length && timingSafeEqual(th, h) && t.revoked === undefined) user = t.user;
      }
      return user;
    },
    async list() {
      const d = await read();
      const m = new Map<string, number>();
      for (const t of d.tokens) if (t.revoked === undefined) m.set(t.user, (m.get(t.user) ?? 0) + 1);
      return [...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(([user, tokens]) => ({ user, tokens }));
    },
  };
}
