// The part of cacache's API (npm's content-addressed cache; no types of its own) that rumpkg uses.
declare module 'cacache' {
  interface CacacheEntry {
    key: string;
    integrity: string;
    size: number;
    time: number;
    metadata?: unknown;
  }
  const cacache: {
    ls(cache: string): Promise<Record<string, CacacheEntry>>;
    verify(cache: string): Promise<Record<string, unknown>>;
    put(cache: string, key: string, data: Buffer, opts?: { integrity?: string; algorithms?: string[]; metadata?: unknown }): Promise<string>;
    get: ((cache: string, key: string) => Promise<{ data: Buffer; metadata?: unknown; integrity: string; size: number }>) & {
      byDigest(cache: string, integrity: string): Promise<Buffer>;
      info(cache: string, key: string): Promise<CacacheEntry | null>;
    };
    rm: { content(cache: string, integrity: string): Promise<unknown>; entry(cache: string, key: string): Promise<unknown> };
  };
  export default cacache;
}

// cacache's own files for the download cache's hot path (see registry/home/cache.ts).
declare module 'cacache/lib/get.js' {
  import type cacache from 'cacache';
  const get: typeof cacache.get;
  export default get;
}
declare module 'cacache/lib/put.js' {
  import type cacache from 'cacache';
  const put: typeof cacache.put;
  export default put;
}
declare module 'cacache/lib/entry-index.js' {
  const index: { delete(cache: string, key: string): Promise<unknown> };
  export default index;
}
declare module 'cacache/lib/content/rm.js' {
  const rm: (cache: string, integrity: string) => Promise<unknown>;
  export default rm;
}
declare module 'cacache/lib/memoization.js' {
  const memo: { clearMemoized(): unknown };
  export default memo;
}
