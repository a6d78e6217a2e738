/**
 * The `file:` backend: a file registry directory (the embedded default) used in-process through
 * storage/ — the same storage `rumpkg registry serve` exposes over HTTP, so its publish rules
 * (immutability, ownership, atomic writes under a lock) hold here too. No HTTP.
 */
import { userInfo } from 'node:os';
import { fileURLToPath } from 'node:url';
import { RumpkgError } from '../../components/index.js';
import { claimantsOf, createFileStorage, indexClaims, tarballPath } from '../storage/index.js';
import type { BackendContext, RegistryBackend } from './types.js';

export function createFileBackend(url: string, _ctx: BackendContext): RegistryBackend {
  const storage = createFileStorage(fileURLToPath(url));
  return {
    kind: 'file',
    url,
    readPackument: (name) => storage.readPackument(name),
    tarballLocation: (name, version) => tarballPath(name, version),
    readTarball: async (id, name, version) => {
      const read = await storage.readTarball(name, version);
      if (read === undefined || read === null) {
        throw new RumpkgError('E_NOT_FOUND', `${id}: its tarball is missing from the file registry ${fileURLToPath(url)}`, { context: { component: id } });
      }
      return Buffer.from(read as Uint8Array);
    },
    publish: async (bytes, _pj, options) => {
      const owner = userInfo().username || 'local';
      await storage.publish(bytes, { tag: options.tag, owner });
      return { registry: url };
    },
    yank: async (name, version, options) => {
      await storage.yank(name, version, { undo: options.undo });
    },
    claimants: async (words) => new Map([...claimantsOf(indexClaims(await storage.readClaims()), words)].map(([w, list]) => [w, list.map((c) => c.name)])),
    search: async (words, options) => {
      const { hits } = await storage.search(words, { size: Math.min(options.size, 250) });
      return hits.map((h) => ({
        name: h.name,
        version: h.version,
        description: h.description,
        keywords: h.keywords,
        aliases: h.aliases,
        ...(h.lib === undefined ? {} : { lib: h.lib }),
        score: h.score,
      }));
    },
  };
}
