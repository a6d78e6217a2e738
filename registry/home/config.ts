/**
 * `<home>/config.json`: which registry serves which scope. Read → parse → normalise → check,
 * like every other document. Each scope is pinned to exactly one registry and there is no
 * fallback from one registry to another (RG-06, dependency confusion): a name whose scope has
 * no registry is an E_SCOPE error, never a lookup somewhere else.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { DEFAULT_SCOPE, RumpkgError, parseJsonDocument } from '../../components/index.js';
import { homePaths, writeFileAtomic } from './home.js';

export interface RumpkgConfig {
  configVersion: 1;
  /** Scope (`@rump`) → registry URL (`file:/abs/dir` or `http(s)://host/path/`). */
  registries: Record<string, string>;
  /** The scope bare names map to. */
  defaultScope: string;
}

const SCOPE_RE = /^@[a-z0-9][a-z0-9._-]*$/;

/** The configuration a fresh home has. */
function defaultConfig(root: string): RumpkgConfig {
  return {
    configVersion: 1,
    registries: { [DEFAULT_SCOPE]: pathToFileURL(homePaths(root).registry).href },
    defaultScope: DEFAULT_SCOPE,
  };
}

/**
 * Normalises a registry URL: `file:~/x`, `file:rel/x` and `file:/abs` become absolute `file:`
 * URLs (relative ones against `base`); http(s) URLs get a trailing slash; anything else → E_USAGE.
 */
export function normalizeRegistryUrl(url: string, options: { base?: string } = {}): string {
  if (url.startsWith('file:')) {
    let p = url.slice('file:'.length);
    if (p.startsWith('//')) return pathToFileURL(fileURLToPath(url)).href;
    if (p === '~' || p.startsWith('~/')) p = resolve(homedir(), p.slice(2));
    else if (!isAbsolute(p)) p = resolve(options.base ?? process.cwd(), p);
    return pathToFileURL(p).href;
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch (e) {
    throw new RumpkgError('E_USAGE', `not a registry URL: ${redactForMessage(url)}`, {
      hint: 'use file:DIR or http(s)://host[:port]/',
      cause: e,
    });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new RumpkgError('E_USAGE', `unsupported registry URL scheme ${u.protocol} in ${redactForMessage(url)}`, {
      hint: 'use file:DIR or http(s)://host[:port]/',
    });
  }
  if (u.username !== '' || u.password !== '') {
    throw new RumpkgError('E_USAGE', `a registry URL must not carry credentials: ${redactForMessage(url)}`, {
      hint: 'store the token with `rumpkg login --registry URL` instead',
    });
  }
  u.search = '';
  u.hash = '';
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u.href;
}

function redactForMessage(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//***@');
}

/** Reads `<home>/config.json`, falling back to the defaults; a broken file is an error. */
export async function readConfig(root: string): Promise<RumpkgConfig> {
  const file = homePaths(root).config;
  let text: string;
  try {
    // Synchronous: a small file, read on every command's start-up path.
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return defaultConfig(root);
    throw new RumpkgError('E_IO', `cannot read ${file}`, { cause: e, context: { path: file } });
  }
  // The safe reader: E_JSON_PARSE / E_SCHEMA (duplicate or prototype keys, size) naming the file.
  return parseConfig(parseJsonDocument(text, { file, maxBytes: 1024 * 1024 }), { file, root });
}

/** Validates and normalises a parsed config document (merged over the defaults). */
function parseConfig(raw: unknown, options: { file: string; root: string }): RumpkgConfig {
  const base = defaultConfig(options.root);
  const bad = (what: string): RumpkgError =>
    new RumpkgError('E_SCHEMA', `${options.file}: ${what}`, { context: { path: options.file } });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('must be a JSON object');
  const o = raw as Record<string, unknown>;
  const registries: Record<string, string> = { ...base.registries };
  if (o.registries !== undefined) {
    if (typeof o.registries !== 'object' || o.registries === null || Array.isArray(o.registries)) {
      throw bad('"registries" must map scopes to URLs');
    }
    for (const [scope, url] of Object.entries(o.registries)) {
      if (!SCOPE_RE.test(scope)) throw bad(`"${scope}" is not a scope (expected @name)`);
      if (typeof url !== 'string') throw bad(`registry of ${scope} must be a string`);
      registries[scope] = normalizeRegistryUrl(url, { base: options.root });
    }
  }
  let defaultScope = base.defaultScope;
  if (o.defaultScope !== undefined) {
    if (typeof o.defaultScope !== 'string' || !SCOPE_RE.test(o.defaultScope)) throw bad('"defaultScope" must be a scope');
    defaultScope = o.defaultScope;
  }
  return { configVersion: 1, registries, defaultScope };
}

/** Writes `<home>/config.json` atomically, keys sorted. */
export async function writeConfig(root: string, config: RumpkgConfig): Promise<void> {
  const registries = Object.fromEntries(Object.entries(config.registries).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const doc = { configVersion: 1, defaultScope: config.defaultScope, registries };
  await writeFileAtomic(homePaths(root).config, `${JSON.stringify(doc, null, 2)}\n`);
}

/**
 * The effective scope → registry map: the home config, overridden per scope by a project's
 * `rumpkg.json` `registries` (relative `file:` paths resolve against the project directory).
 */
export function effectiveRegistries(
  config: RumpkgConfig,
  options: { project?: Record<string, string>; projectDir?: string } = {},
): Record<string, string> {
  const out = { ...config.registries };
  for (const [scope, url] of Object.entries(options.project ?? {})) {
    if (!SCOPE_RE.test(scope)) {
      throw new RumpkgError('E_MANIFEST', `rumpkg.json registries: "${scope}" is not a scope`, {
        hint: 'keys of "registries" are scopes such as "@rump"',
      });
    }
    out[scope] = normalizeRegistryUrl(url, { base: options.projectDir ?? process.cwd() });
  }
  return out;
}

/** The scope of a component name (`@rump/tcpip` → `@rump`), or undefined for an unscoped name. */
function scopeOf(name: string): string | undefined {
  if (!name.startsWith('@')) return undefined;
  const i = name.indexOf('/');
  return i < 0 ? undefined : name.slice(0, i);
}

/** The one registry that serves `name` (RG-06: no fallback). Unknown scope → E_SCOPE. */
export function registryForName(name: string, registries: Record<string, string>): { scope: string; url: string } {
  const scope = scopeOf(name);
  const url = scope === undefined ? undefined : registries[scope];
  if (scope === undefined || url === undefined) {
    const known = Object.keys(registries).sort().join(', ') || '(none)';
    throw new RumpkgError('E_SCOPE', `no registry is configured for ${scope ?? 'unscoped name'} (${name})`, {
      context: { component: name, scope: scope ?? null },
      hint: `components are only fetched from the registry pinned to their scope; configured scopes: ${known}. Add one to "registries" in rumpkg.json or ${'$RUMPKG_HOME'}/config.json`,
    });
  }
  return { scope, url };
}

/**
 * `rumpkg config` keys: `defaultScope`, `registry` (the registry of the default scope) and
 * npm's spelling `@scope:registry`; E_USAGE for anything else.
 */
function configKey(key: string, config: RumpkgConfig): { kind: 'defaultScope' } | { kind: 'registry'; scope: string } {
  if (key === 'defaultScope') return { kind: 'defaultScope' };
  if (key === 'registry') return { kind: 'registry', scope: config.defaultScope };
  const m = /^(@[^:]+):registry$/.exec(key);
  if (m !== null && SCOPE_RE.test(m[1]!)) return { kind: 'registry', scope: m[1]! };
  throw new RumpkgError('E_USAGE', `unknown config key ${JSON.stringify(key)}`, {
    context: { key },
    hint: 'keys: defaultScope, registry (the default scope\'s registry), @SCOPE:registry (e.g. @rump:registry)',
  });
}

/** Every setting as `key → value` (the form `rumpkg config list` prints), keys sorted. */
export function configEntries(config: RumpkgConfig): Array<[string, string]> {
  return [
    ['defaultScope', config.defaultScope] as [string, string],
    ...Object.entries(config.registries)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([scope, url]): [string, string] => [`${scope}:registry`, url]),
  ];
}

/** The value of one key (E_USAGE for an unknown key, E_NOT_FOUND for a scope with no registry). */
export function getConfigValue(config: RumpkgConfig, key: string): string {
  const k = configKey(key, config);
  if (k.kind === 'defaultScope') return config.defaultScope;
  const url = config.registries[k.scope];
  if (url === undefined) {
    throw new RumpkgError('E_NOT_FOUND', `no registry is configured for ${k.scope}`, { context: { key, scope: k.scope }, hint: `rumpkg config set ${k.scope}:registry URL` });
  }
  return url;
}

/**
 * Sets (`value` given) or deletes (`value` undefined) one key of `<home>/config.json` and writes
 * it atomically; registry URLs are normalised (relative `file:` paths against `base`). Deleting a
 * scope the defaults pin (`@rump`) gives it back its default registry. Returns the new config.
 */
export async function updateConfig(root: string, key: string, value: string | undefined, options: { base?: string } = {}): Promise<RumpkgConfig> {
  const config = await readConfig(root);
  const k = configKey(key, config);
  if (k.kind === 'defaultScope') {
    if (value === undefined) config.defaultScope = defaultConfig(root).defaultScope;
    else if (!SCOPE_RE.test(value)) {
      throw new RumpkgError('E_USAGE', `defaultScope must be a scope such as @rump, not ${JSON.stringify(value)}`, { context: { key, value } });
    } else config.defaultScope = value;
  } else if (value === undefined) {
    delete config.registries[k.scope];
    const fallback = defaultConfig(root).registries[k.scope];
    if (fallback !== undefined) config.registries[k.scope] = fallback;
  } else {
    config.registries[k.scope] = normalizeRegistryUrl(value, options.base === undefined ? {} : { base: options.base });
  }
  await writeConfig(root, config);
  return config;
}
