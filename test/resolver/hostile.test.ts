/** Hostile input (RELIABILITY.md IN-06 and the acceptance): clear result or typed error, bounded time. */
import { describe, expect, it } from 'vitest';
import { isRumpkgError } from '../../components/index.js';
import {
  createMemoryProvider,
  registryOf,
  renderFailure,
  resolutionError,
  solve,
  failureToJSON,
  type CandidateVersion,
  type Resolution,
} from '../../resolver/index.js';

type Spec = Parameters<typeof registryOf>[0];
const T = 'posix-x86_64';

async function run(deps: Record<string, string>, spec: Spec | CandidateVersion[], maxSteps?: number): Promise<Resolution> {
  const list = Array.isArray(spec) ? spec : registryOf(spec);
  return solve({ root: { name: 'hello', dependencies: deps }, target: T }, createMemoryProvider(list), maxSteps === undefined ? {} : { maxSteps });
}

async function typedError(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isRumpkgError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected a RumpkgError');
}

function chain(n: number, last: Record<string, string> = {}): CandidateVersion[] {
  const spec: Spec = {};
  for (let i = 0; i < n; i++) spec[`p${i} 1.0.0`] = i + 1 < n ? { [`p${i + 1}`]: '^1.0.0' } : last;
  return registryOf(spec);
}

describe('hostile input', () => {
  it('cyclic dependencies are allowed and resolved', async () => {
    const r = await run({ a: '^1.0.0' }, { 'a 1.0.0': { b: '^1.0.0' }, 'b 1.0.0': { c: '^1.0.0' }, 'c 1.0.0': { a: '^1.0.0' } });
    expect(r.ok && Object.keys(r.solution.components)).toEqual(['a', 'b', 'c']);
  });

  it('self-dependencies: satisfied ones are harmless, impossible ones fail clearly', async () => {
    const ok = await run({ a: '*' }, { 'a 1.0.0': { a: '^1.0.0' } });
    expect(ok.ok).toBe(true);
    const bad = await run({ a: '*' }, { 'a 1.0.0': { a: '^2.0.0' } });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(renderFailure(bad.failure)).toMatch(/version solving failed\.$/);
  });

  it('a range that matches nothing', async () => {
    expect(await typedError(run({ a: '>2.0.0 <1.0.0' }, { 'a 1.0.0': {} }))).toMatchObject({ code: 'E_SEMVER' });
    const r = await run({ a: '*' }, { 'a 1.0.0': { b: '>2.0.0 <1.0.0' }, 'b 1.0.0': {} });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(renderFailure(r.failure)).toBe('Because hello depends on a which depends on b >2.0.0 <1.0.0, a range no version matches, version solving failed.');
    const r2 = await run({ a: '*' }, { 'a 1.0.0': { b: '>2.0.0 <1.0.0' }, 'a 0.1.0': {}, 'b 1.0.0': {} });
    expect(r2.ok && r2.solution.components['a']?.version).toBe('0.1.0');
    const r3 = await run({ a: '^1.0.0' }, { 'a 1.0.0': {} , 'a 2.0.0': {} });
    expect(r3.ok && r3.solution.components['a']?.version).toBe('1.0.0');
    const r4 = await run({ a: '^3.0.0' }, { 'a 1.0.0': {} });
    expect(!r4.ok && renderFailure(r4.failure)).toBe("Because hello depends on a ^3.0.0 which doesn't match any versions, version solving failed.");
  });

  it('very long ranges are a typed error, quickly', async () => {
    const t0 = Date.now();
    const long = Array.from({ length: 2000 }, (_, i) => `1.0.${i}`).join(' || ');
    expect(await typedError(run({ a: long }, { 'a 1.0.0': {} }))).toMatchObject({ code: 'E_SEMVER' });
    const spaces = `>=1.0.0${' '.repeat(50_000)}<2.0.0`;
    expect(await typedError(run({ a: spaces }, { 'a 1.0.0': {} }))).toMatchObject({ code: 'E_SEMVER' });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('pathological but short ranges resolve in bounded time', async () => {
    const many = Array.from({ length: 100 }, (_, i) => `${i}.x`).join('||');
    const spec: Spec = {};
    for (let i = 0; i < 100; i++) spec[`a ${i}.0.0`] = { b: many };
    for (let i = 0; i < 100; i++) spec[`b ${i}.0.0`] = {};
    const t0 = Date.now();
    const r = await run({ a: many }, spec);
    expect(r.ok && r.solution.components['a']?.version).toBe('99.0.0');
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('invalid ranges and versions in metadata are typed errors naming the edge', async () => {
    const e = await typedError(run({ a: '*' }, { 'a 1.0.0': { b: 'not a range!!' } }));
    expect(e.code).toBe('E_SEMVER');
    expect(e.message).toContain('a@1.0.0 → b');
    expect((await typedError(run({ a: '*' }, registryOf({ 'a one': {} })))).code).toBe('E_SEMVER');
  });

  it('a 10,000-deep chain resolves without recursion', async () => {
    const r = await run({ p0: '^1.0.0' }, chain(10_000));
    expect(r.ok && Object.keys(r.solution.components).length).toBe(10_000);
  });

  it('a 10,000-deep chain that fails at the bottom explains itself without stack overflow', async () => {
    const r = await run({ p0: '^1.0.0' }, chain(10_000, { missing: '^1.0.0' }));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const text = renderFailure(r.failure);
    expect(text.split('\n').length).toBeGreaterThan(100);
    expect(text).toMatch(/missing/);
    expect(text).toMatch(/version solving failed\.$/);
    expect(failureToJSON(r.failure).nodes.length).toBeGreaterThan(10_000);
    const err = resolutionError(r.failure);
    expect(err.code).toBe('E_RESOLVE');
  });

  it('maxSteps bounds the work with E_RESOLVE_LIMIT', async () => {
    expect(await typedError(run({ p0: '^1.0.0' }, chain(1000), 100))).toMatchObject({ code: 'E_RESOLVE_LIMIT' });
  });

  it('an aborted signal stops the solve with a typed error', async () => {
    const ac = new AbortController();
    ac.abort();
    const p = solve({ root: { name: 'hello', dependencies: { p0: '*' } }, target: T }, createMemoryProvider(chain(10)), { signal: ac.signal });
    expect(await typedError(p)).toMatchObject({ code: 'E_RESOLVE_LIMIT' });
  });

  it('a provider error passes through untouched', async () => {
    const boom = new Error('registry down');
    const p = solve({ root: { name: 'hello', dependencies: { a: '*' } }, target: T }, { versions: async () => Promise.reject(boom), providersOf: async () => [] });
    await expect(p).rejects.toBe(boom);
  });

  it('several listings failing at once: the solve rejects with one of their errors and leaves no rejection unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => {
      unhandled.push(e);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const late = new Error('a: registry down');
      const early = new Error('b: registry down');
      // Both are loaded together after the project's decision; a rejects after b.
      const provider = {
        versions: (name: string): Promise<never[]> =>
          name === 'a' ? new Promise((_, reject) => setTimeout(() => reject(late), 20)) : Promise.reject(early),
        providersOf: async (): Promise<string[]> => [],
      };
      const error = await solve({ root: { name: 'hello', dependencies: { a: '*', b: '*' } }, target: T }, provider).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect([late, early]).toContain(error);
      await new Promise((resolve) => setTimeout(resolve, 60));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a provider that throws instead of rejecting fails the solve the same way', async () => {
    const thrown = new Error('provider bug');
    const provider = {
      versions: (): Promise<never[]> => {
        throw thrown;
      },
      providersOf: async (): Promise<string[]> => [],
    };
    await expect(solve({ root: { name: 'hello', dependencies: { a: '*' } }, target: T }, provider)).rejects.toBe(thrown);
  });

  it('a provider whose synchronous answer (versionsNow) throws fails the solve the same way', async () => {
    const thrown = new Error('provider bug');
    const provider = {
      versions: async (): Promise<never[]> => [],
      versionsNow: (): never[] => {
        throw thrown;
      },
      providersOf: async (): Promise<string[]> => [],
    };
    await expect(solve({ root: { name: 'hello', dependencies: { a: '*' } }, target: T }, provider)).rejects.toBe(thrown);
    await expect(solve({ root: { name: 'hello', dependencies: { a: '*', b: '*' } }, target: T }, provider)).rejects.toBe(thrown);
  });

  it('hundreds of mutually conflicting components fail in bounded time', async () => {
    const spec: Spec = {};
    const deps: Record<string, string> = {};
    for (let i = 0; i < 200; i++) {
      spec[`c${i} 1.0.0`] = { conflicts: [`c${(i + 1) % 200}`] };
      deps[`c${i}`] = '*';
    }
    const t0 = Date.now();
    const r = await run(deps, spec);
    expect(r.ok).toBe(false);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
