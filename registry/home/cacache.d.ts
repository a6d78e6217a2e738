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
