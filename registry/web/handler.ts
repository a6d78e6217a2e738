/**
 * The registry's web UI as a request handler the server mounts (registry/server.ts):
 *   GET /                                   the component list (`?q=` pre-filters it)
 *   GET /-/web/component/<name>             one component (`@scope/name` raw or `@scope%2fname`)
 * Routes that npm package names cannot take: `/` is no name, and npm names never start with `-`
 * (the npm routes under `/-/` are matched before, and exactly as, they always were).
 * Read-only, anonymous: it reads what `GET /<name>` serves and nothing a token would be needed for.
 * The dependency graphs are drawn by `renderGraph` when the caller gives one (the CLI passes the
 * packager's Graphviz renderer; registry/ cannot import packager/); without it the pages list each
 * closure as text.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isRumpkgError } from '../../components/index.js';
import type { Resolution } from '../../resolver/index.js';
import { checkRegistryName, type RegistryStorage } from '../storage/index.js';
import { readPackuments, solveLatestPerTarget, summarize, WEB_PROJECT, type ComponentSummary } from './catalog.js';
import { pageCsp, renderComponentPage, renderErrorPage, renderIndexPage, type ClosureView } from './pages.js';

/** Draws one closure (or failure) as inline SVG markup. */
export type WebGraphRenderer = (input: { project: string; target: string; resolution: Resolution }) => Promise<string>;

export interface WebOptions {
  renderGraph?: WebGraphRenderer;
}

/** Handles a request when it is the web UI's (returns true), else leaves it (false). */
export type WebHandler = (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams) => Promise<boolean>;

export const WEB_PREFIX = '/-/web/';

function sendPage(res: ServerResponse, status: number, body: string, head: boolean): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': bytes.length,
    'content-security-policy': pageCsp(),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-cache',
  });
  res.end(head ? undefined : bytes);
}

/** The component name of a `/-/web/component/…` path, or undefined when it names none. */
export function componentNameOf(rest: string): string | undefined {
  let name: string;
  try {
    name = decodeURIComponent(rest);
  } catch {
    return undefined;
  }
  try {
    return checkRegistryName(name);
  } catch (e) {
    if (isRumpkgError(e)) return undefined;
    throw e;
  }
}

export function createWebHandler(storage: RegistryStorage, options: WebOptions = {}): WebHandler {
  return async (req, res, path, query) => {
    const isWeb = path === '/' || path.startsWith(WEB_PREFIX);
    if (!isWeb) return false;
    const method = req.method ?? 'GET';
    const head = method === 'HEAD';
    if (method !== 'GET' && !head) {
      // `PUT /` and friends keep the npm answer (400/405 from the npm routes).
      if (path === '/') return false;
      sendPage(res, 405, renderErrorPage(405, 'the web pages are read-only'), false);
      return true;
    }
    if (path === '/') {
      const q = (query.get('q') ?? '').slice(0, 200);
      const summaries = (await readPackuments(storage)).map(summarize).filter((s): s is ComponentSummary => s !== undefined);
      sendPage(res, 200, renderIndexPage(summaries, { query: q }), head);
      return true;
    }
    const rest = path.slice(WEB_PREFIX.length);
    const name = rest.startsWith('component/') ? componentNameOf(rest.slice('component/'.length)) : undefined;
    if (name === undefined) {
      sendPage(res, 404, renderErrorPage(404, 'there is no such page'), head);
      return true;
    }
    const packuments = await readPackuments(storage);
    const packument = packuments.find((p) => p.name === name);
    if (packument === undefined) {
      sendPage(res, 404, renderErrorPage(404, `${name} is not in this registry`), head);
      return true;
    }
    let closures: ClosureView[];
    try {
      closures = await solveLatestPerTarget(packuments, name);
    } catch (e) {
      if (!isRumpkgError(e)) throw e;
      closures = [];
    }
    if (options.renderGraph !== undefined) {
      for (const c of closures) {
        try {
          c.svg = await options.renderGraph({ project: WEB_PROJECT, target: c.target, resolution: c.resolution });
        } catch (e) {
          if (!isRumpkgError(e)) throw e;
          c.error = e.message;
        }
      }
    }
    sendPage(res, 200, renderComponentPage({ packument, closures, known: new Set(packuments.map((p) => p.name)) }), head);
    return true;
  };
}
