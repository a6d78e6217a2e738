/**
 * One backend per registry kind behind the client facade (pacote's shape: `FetcherBase` + one
 * fetcher per spec type). The facade (client.ts) owns every policy that must hold whatever the
 * registry is — RG-01 rollback, RG-08 lockfile locations, IN-02/03 integrity, IN-04 manifest
 * confusion, memoisation, name resolution; a backend only moves bytes for its kind:
 *
 * - `file`: a file registry directory (the embedded default), read and written in-process
 *   through storage/ — no HTTP (file-backend.ts);
 * - `http`: any npm-protocol registry, read over HTTP with the download cache, written with the npm
 *   `PUT` protocol (http-backend.ts).
 *
 * `createBackend` is the one switch on the kind (with an exhaustiveness check).
 */
import { createFileBackend } from './file-backend.js';
import { createHttpBackend } from './http-backend.js';
import type { BackendContext, RegistryBackend, RegistryKind } from './types.js';

export type { BackendContext, BackendSearchHit, ClientReporter, RegistryBackend, RegistryKind } from './types.js';

/** The kind of registry a (normalised) registry URL names. */
export function registryKind(url: string): RegistryKind {
  return url.startsWith('file:') ? 'file' : 'http';
}

/** The backend for `url`: the one switch on the registry kind. */
export function createBackend(url: string, ctx: BackendContext): RegistryBackend {
  const kind = registryKind(url);
  switch (kind) {
    case 'file':
      return createFileBackend(url, ctx);
    case 'http':
      return createHttpBackend(url, ctx);
    default: {
      const never: never = kind;
      throw new Error(`bug: unknown registry kind ${String(never)}`);
    }
  }
}
