/**
 * `<home>/credentials.json`: registry → bearer token. The file is created with mode 0600 and
 * replaced atomically (written 0600 from the start, never chmod-ed afterwards). Tokens appear
 * nowhere else: not in config, lockfiles, images, errors or output (RG-09). Keys are the
 * registry URL without query or credentials (`http://127.0.0.1:4873/`), so a token is only
 * ever offered to the exact registry it was issued for.
 */
import { chmod, readFile, stat } from 'node:fs/promises';
import { RumpkgError, isRumpkgError, parseJsonDocument } from '../../components/index.js';
import { homePaths, writeFileAtomic } from './home.js';
import { normalizeRegistryUrl } from './config.js';

interface CredentialsFile {
  credentialsVersion: 1;
  tokens: Record<string, string>;
}

/** The key a token is stored under: the normalised registry URL. */
function credentialKey(registryUrl: string): string {
  return normalizeRegistryUrl(registryUrl);
}

async function readFileDoc(root: string): Promise<CredentialsFile> {
  const file = homePaths(root).credentials;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { credentialsVersion: 1, tokens: {} };
    throw new RumpkgError('E_IO', `cannot read ${file}`, { cause: e, context: { path: file } });
  }
  // Tighten a file someone loosened by hand; never read tokens from a group/world-readable file silently.
  const s = await stat(file);
  if ((s.mode & 0o077) !== 0) await chmod(file, 0o600);
  let o: Partial<CredentialsFile>;
  try {
    o = parseJsonDocument(text, { file, maxBytes: 1024 * 1024, maxDepth: 8 }) as Partial<CredentialsFile>;
  } catch (e) {
    if (!isRumpkgError(e, 'E_JSON_PARSE') && !isRumpkgError(e, 'E_SCHEMA')) throw e;
    // Never echo the content (it holds tokens): only where the problem is, no cause.
    const where = typeof e.context.pointer === 'string' && e.context.pointer !== '' ? ` at ${e.context.pointer}` : '';
    throw new RumpkgError(e.code, `${file} is not a valid credentials file${where}${e.code === 'E_SCHEMA' ? ' (a duplicate, oversized or forbidden key)' : ''}`, {
      context: { path: file },
      hint: 'fix or delete the file and run `rumpkg login` again',
    });
  }
  const tokens: Record<string, string> = {};
  const given = o !== null && typeof o === 'object' && o.tokens !== null && typeof o.tokens === 'object' ? o.tokens : {};
  for (const [k, v] of Object.entries(given)) if (typeof v === 'string') tokens[k] = v;
  return { credentialsVersion: 1, tokens };
}

/** The token stored for a registry, if any. */
export async function readToken(root: string, registryUrl: string): Promise<string | undefined> {
  const doc = await readFileDoc(root);
  return doc.tokens[credentialKey(registryUrl)];
}

/** Stores (or replaces) the token for a registry; the file is 0600 from creation. */
export async function storeToken(root: string, registryUrl: string, options: { token: string }): Promise<void> {
  const token = options.token.trim();
  if (token === '' || /[\s\u0000-\u001f]/.test(token)) {
    throw new RumpkgError('E_USAGE', 'the token read from stdin is empty or contains whitespace/control characters', {
      hint: 'pipe exactly one token: `echo "$TOKEN" | rumpkg login --registry URL`',
    });
  }
  const doc = await readFileDoc(root);
  doc.tokens[credentialKey(registryUrl)] = token;
  const tokens = Object.fromEntries(Object.entries(doc.tokens).sort(([a], [b]) => (a < b ? -1 : 1)));
  await writeFileAtomic(homePaths(root).credentials, `${JSON.stringify({ credentialsVersion: 1, tokens }, null, 2)}\n`, {
    mode: 0o600,
  });
}

/** Removes the token for a registry; true when one was stored. */
export async function removeToken(root: string, registryUrl: string): Promise<boolean> {
  const doc = await readFileDoc(root);
  const key = credentialKey(registryUrl);
  if (!(key in doc.tokens)) return false;
  delete doc.tokens[key];
  await writeFileAtomic(homePaths(root).credentials, `${JSON.stringify({ credentialsVersion: 1, tokens: doc.tokens }, null, 2)}\n`, {
    mode: 0o600,
  });
  return true;
}
