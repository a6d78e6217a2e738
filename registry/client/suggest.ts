/**
 * "Did you mean": the components of a registry whose name, alias or library name is closest to a
 * word nobody publishes (cargo's rule: edit distance at most a third of the word's length, at
 * least 1). Candidates are what the registry's search lists for the scope with no words — every
 * name on a file registry, rumpkg's server and Verdaccio (up to 250) — with the aliases and
 * library names the hits carry. Edit distance is fastest-levenshtein's.
 *
 * Used where a user names a component that does not exist (`add`, `info`, `yank`): the error is
 * E_NOT_FOUND with the suggestions in its hint and in `context.suggestions`.
 */
import { fileURLToPath } from 'node:url';
import { distance } from 'fastest-levenshtein';
import { DEFAULT_SCOPE, RumpkgError } from '../../components/index.js';
import { redactUrl } from '../transport/index.js';
import type { RegistryClient } from './client.js';

interface Suggestion {
  /** The component, e.g. `@rump/tcpip`. */
  name: string;
  /** What matched: its name without scope, an alias or its library name. */
  match: string;
  distance: number;
}

const bareName = (name: string): string => (name.startsWith('@') ? name.slice(name.indexOf('/') + 1) : name);

/** The components closest to `word` (at most `max`, closest first; [] when nothing is close). */
export async function suggestComponents(
  client: RegistryClient,
  word: string,
  options: { defaultScope?: string; max?: number } = {},
): Promise<Suggestion[]> {
  const scope = word.startsWith('@') && word.includes('/') ? word.slice(0, word.indexOf('/')) : (options.defaultScope ?? DEFAULT_SCOPE);
  const wanted = bareName(word).toLowerCase();
  if (wanted === '') return [];
  let hits: Awaited<ReturnType<RegistryClient['search']>>;
  try {
    hits = await client.search([], { size: 250, scope });
  } catch {
    // Suggestions are a courtesy: a registry that cannot list (offline, no search) gives none.
    return [];
  }
  const limit = Math.max(1, Math.floor(wanted.length / 3));
  const best = new Map<string, Suggestion>();
  for (const h of hits) {
    const keys = [bareName(h.name), ...h.aliases, ...(h.lib === undefined ? [] : [h.lib, h.lib.replace(/^lib/, '')])];
    for (const key of keys) {
      const d = distance(wanted, key.toLowerCase());
      if (d <= limit && d < (best.get(h.name)?.distance ?? Infinity)) best.set(h.name, { name: h.name, match: key, distance: d });
    }
  }
  return [...best.values()].sort((a, b) => a.distance - b.distance || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).slice(0, options.max ?? 3);
}

/** How a suggestion reads in a hint: `tcpip`, or `netinet (an alias of @rump/tcpip)`. */
function shown(s: Suggestion, defaultScope: string): string {
  const short = s.name.startsWith(`${defaultScope}/`) ? bareName(s.name) : s.name;
  return s.match === bareName(s.name) ? short : `${s.match} (${s.name.startsWith(`${defaultScope}/`) ? 'an alias of ' : 'of '}${s.name})`;
}

/**
 * E_NOT_FOUND for a component nobody publishes under `name` (what `word` resolved to), with the
 * closest names as "did you mean" in the hint and `context.suggestions`.
 */
export async function unknownComponentError(
  client: RegistryClient,
  word: string,
  name: string,
  options: { defaultScope?: string } = {},
): Promise<RumpkgError> {
  const defaultScope = options.defaultScope ?? DEFAULT_SCOPE;
  const suggestions = await suggestComponents(client, word, { defaultScope });
  let where = '';
  try {
    const url = client.registryFor(name).url;
    where = ` in ${url.startsWith('file:') ? fileURLToPath(url) : redactUrl(url)}`;
  } catch {
    where = '';
  }
  return new RumpkgError('E_NOT_FOUND', `no component named ${word}${name === word ? '' : ` (${name})`}${where}`, {
    context: { component: name, suggestions: suggestions.map((s) => s.name) },
    hint:
      suggestions.length > 0
        ? `did you mean ${suggestions.map((s) => shown(s, defaultScope)).join(', or ')}?`
        : `rumpkg search ${word} lists components whose names, aliases or descriptions match`,
  });
}
