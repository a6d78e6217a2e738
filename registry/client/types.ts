/**
 * The contract between the client facade (client.ts) and its backends, one per registry kind
 * (backend.ts chooses). Types only.
 */
import type { TransportLimits } from '../transport/index.js';
import type { Packument, PackumentVersion } from '../storage/index.js';

export type RegistryKind = 'file' | 'http';

/** What the client reports (the CLI's Reporter fits). Library code never prints. */
export interface ClientReporter {
  info?(message: string): void;
  warn?(message: string): void;
}

/** What every backend of one client shares. */
export interface BackendContext {
  home: string;
  limits: TransportLimits;
  offline: boolean;
  preferOnline: boolean;
  reporter: ClientReporter;
  /** Injected fetch for HTTP requests (tests). */
  fetch?: typeof fetch;
  /**
   * Runs a write that only serves later runs (a download-cache entry): at once (the promise
   * settles after it), or, for a client with `deferWrites`, when the client is flushed (the
   * promise settles at once). The task must not reject. `packument`: the entry is the packument
   * of that name, and `fresh` says whether the registry lets it be used without asking (max-age)
   * — see the client's `deferWrites` for which of those a deferred session keeps.
   */
  later(task: () => Promise<void>, entry?: { packument: string; fresh: boolean }): Promise<void>;
}

export interface BackendSearchHit {
  name: string;
  version: string;
  description: string;
  keywords: string[];
  aliases: string[];
  lib?: string;
  score: number;
}

export interface RegistryBackend {
  readonly kind: RegistryKind;
  /** The registry URL it serves. */
  readonly url: string;
  /** The packument as the registry has it (E_NOT_FOUND for an unknown name). */
  readPackument(name: string): Promise<Packument>;
  /** Where the registry lists the tarball of `doc`, relative to the registry when under it. */
  tarballLocation(name: string, version: string, doc: PackumentVersion): string;
  /**
   * The bytes of the tarball of `doc` (`id` = name@version), which must match `integrity` (the
   * facade verifies them again). HTTP: only from the registry's own origin (RG-03); downloaded
   * bytes enter the download cache unless `keep` is false (the caller keeps them itself).
   */
  readTarball(id: string, name: string, version: string, doc: PackumentVersion, integrity: string, options?: { keep?: boolean }): Promise<Buffer>;
  /** Publishes a tarball whose package.json is `pj`; returns the registry as it may be shown. */
  publish(bytes: Buffer, pj: Record<string, unknown>, options: { tag: string; token?: string }): Promise<{ registry: string }>;
  yank(name: string, version: string, options: { undo: boolean; reason?: string; token?: string }): Promise<void>;
  search(words: string[], options: { size: number }): Promise<BackendSearchHit[]>;
  /**
   * Every component that claims each word (docs/registry-policy.md), keyed by the lower-cased
   * word, in one request — on registries that can say (rumpkg's own: the file registry, and
   * `rumpkg registry serve`'s `/-/rumpkg/claims`). Rejects when the registry cannot answer (an
   * npm registry: 404), and then the caller searches word by word.
   */
  claimants(words: string[]): Promise<Map<string, string[]>>;
}

