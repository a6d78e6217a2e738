/**
 * Property-based fuzzing of the document readers that take bytes from outside: the packument
 * reader (registry/ parsePackument, and the file registry's stored packuments through
 * createFileStorage), the lockfile reader, the component manifest reader and the project
 * manifest reader. Inputs are valid documents mutated at the text level — forbidden keys
 * (`__proto__`, `constructor`, `prototype`, also \u-escaped), duplicated keys, wrong types,
 * deep nesting, flipped and deleted characters, truncation — and every reader must give either a
 * value that keeps its invariants or a typed problem, never another exception, in bounded time.
 *
 * A fixed seed and bounded run counts keep CI deterministic (`FUZZ_RUNS` raises them locally).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRumpkgError, packComponent, parseComponentManifest, parseLockfileText, parseProjectManifest, renderLockfile, renderProjectManifest } from '../../components/index.js';
import { createFileStorage, parsePackument } from '../../registry/index.js';
import { componentDir, tempDir } from '../registry/client-fixtures.js';
import { designComponentManifest, designProjectManifest, sampleLockfile } from '../schemas/fixtures.js';

const SEED = 0x15_2025;
const RUNS = Number(process.env.FUZZ_RUNS ?? 1500);

const FORBIDDEN = ['__proto__', 'constructor', 'prototype'];
/** A forbidden key as it may be written in JSON: plain, or with \u escapes. */
const forbiddenKey = fc.oneof(
  fc.constantFrom(...FORBIDDEN).map((k) => JSON.stringify(k)),
  fc.constantFrom('"\\u005f_proto__"', '"\\u0063onstructor"', '"proto\\u0074ype"', '"__pr\\u006fto__"'),
);
const jsonValue = fc.oneof(
  fc.constantFrom('{}', '[]', 'null', 'true', '0', '"x"', '{"polluted":"yes"}', '"^1.0.0"', '-1e309', '"\\ud800"', '[[[[[[[[]]]]]]]]'),
  fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)),
);

type Mutation =
  | { kind: 'forbidden'; at: number; key: string; value: string }
  | { kind: 'duplicate'; at: number }
  | { kind: 'retype'; at: number; value: string }
  | { kind: 'deep'; at: number; depth: number }
  | { kind: 'flip'; at: number; char: string }
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'truncate'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('forbidden' as const), at: fc.nat(), key: forbiddenKey, value: jsonValue }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('retype' as const), at: fc.nat(), value: jsonValue }),
  fc.record({ kind: fc.constant('deep' as const), at: fc.nat(), depth: fc.integer({ min: 50, max: 5000 }) }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), char: fc.constantFrom('{', '}', '[', ']', '"', ',', ':', '\\', 'x', '\u0000', 'é') }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

/** Offsets just after each `{` (where a member can be inserted) and of each `"key":` pair. */
function places(text: string): { opens: number[]; keys: Array<{ start: number; end: number }>; values: Array<{ start: number; end: number }> } {
  const opens: number[] = [];
  const keys: Array<{ start: number; end: number }> = [];
  const values: Array<{ start: number; end: number }> = [];
  const re = /"(?:[^"\\]|\\.)*"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d[\d.eE+-]*|true|false|null)?/g;
  for (let i = 0; i < text.length; i++) if (text[i] === '{') opens.push(i + 1);
  for (const m of text.matchAll(re)) {
    keys.push({ start: m.index, end: m.index + m[0].length });
    if (m[1] !== undefined) values.push({ start: m.index + m[0].length - m[1].length, end: m.index + m[0].length });
  }
  return { opens, keys, values };
}

function mutate(text: string, muts: Mutation[]): string {
  let t = text;
  for (const m of muts) {
    if (t.length === 0) break;
    const p = places(t);
    const pick = <T>(list: T[], at: number): T | undefined => (list.length === 0 ? undefined : list[at % list.length]);
    switch (m.kind) {
      case 'forbidden': {
        const at = pick(p.opens, m.at);
        if (at !== undefined) t = `${t.slice(0, at)}${m.key}:${m.value},${t.slice(at)}`;
        break;
      }
      case 'duplicate': {
        const k = pick(p.keys, m.at);
        if (k !== undefined) t = `${t.slice(0, k.end)},${t.slice(k.start, k.end)}${t.slice(k.end)}`;
        break;
      }
      case 'retype': {
        const v = pick(p.values, m.at);
        if (v !== undefined) t = `${t.slice(0, v.start)}${m.value}${t.slice(v.end)}`;
        break;
      }
      case 'deep': {
        const v = pick(p.values, m.at);
        if (v !== undefined) t = `${t.slice(0, v.start)}${'['.repeat(m.depth)}${']'.repeat(m.depth)}${t.slice(v.end)}`;
        break;
      }
      case 'flip': {
        const at = m.at % t.length;
        t = `${t.slice(0, at)}${m.char}${t.slice(at + 1)}`;
        break;
      }
      case 'delete': {
        const at = m.at % t.length;
        t = `${t.slice(0, at)}${t.slice(at + m.len)}`;
        break;
      }
      case 'truncate':
        t = t.slice(0, m.at % t.length);
        break;
      default: {
        const never: never = m;
        throw new Error(`unknown mutation ${JSON.stringify(never)}`);
      }
    }
  }
  return t;
}

/** No object anywhere in `v` has an own forbidden key, and nothing reached Object.prototype. */
function unpolluted(v: unknown, path = ''): void {
  if (Array.isArray(v)) v.forEach((x, i) => unpolluted(x, `${path}/${i}`));
  else if (v !== null && typeof v === 'object') {
    for (const k of Object.keys(v)) {
      if (FORBIDDEN.includes(k)) throw new Error(`accepted a forbidden key at ${path}/${k}`);
      unpolluted((v as Record<string, unknown>)[k], `${path}/${k}`);
    }
    if (Object.getPrototypeOf(v) !== Object.prototype) throw new Error(`an object with another prototype at ${path}`);
  }
  if ((Object.prototype as Record<string, unknown>).polluted !== undefined) throw new Error('Object.prototype was polluted');
}

/** Is there a key twice in one object of `text`? (The reader must refuse such a text.) */
function hasDuplicateKey(text: string): boolean {
  try {
    JSON.parse(text); // only well-formed texts are asked about
  } catch {
    return false;
  }
  // A second, small scanner (independent of the product's) over the keys of each object.
  const stack: Array<Set<string> | null> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top !== undefined && top !== null && expectKey) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        if (top.has(key)) return true;
        top.add(key);
        expectKey = false;
      }
    } else if (c === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (c === '[') stack.push(null);
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') expectKey = stack[stack.length - 1] !== null;
  }
  return false;
}

const outcomes: Record<string, { ok: number; refused: number }> = {};
function tally(reader: string, ok: boolean): void {
  const o = (outcomes[reader] ??= { ok: 0, refused: 0 });
  if (ok) o.ok++;
  else o.refused++;
}

/** Runs one reader on a mutated text: a value keeping the invariants, or a typed refusal. */
function check<T>(reader: string, text: string, read: () => { value?: T; errors: unknown[] }, invariants: (v: T) => void): void {
  const t0 = performance.now();
  const r = read();
  expect(performance.now() - t0, `${reader} took too long`).toBeLessThan(2000);
  if (r.value === undefined) {
    expect(r.errors.length, `${reader}: no value and no problem`).toBeGreaterThan(0);
    tally(reader, false);
    return;
  }
  expect(hasDuplicateKey(text), `${reader} accepted a duplicate key`).toBe(false);
  unpolluted(r.value);
  invariants(r.value);
  tally(reader, true);
}

const input = fc.array(mutation, { minLength: 1, maxLength: 4 });
const params = { seed: SEED, numRuns: RUNS };

describe('fuzzing the document readers (fixed seed, bounded runs)', () => {
  const lockText = renderLockfile(parseLockfileText(JSON.stringify(sampleLockfile()), { file: 'seed.lock' }).value!);
  const manifestText = `${JSON.stringify(designComponentManifest(), null, 2)}\n`;
  const projectText = renderProjectManifest(parseProjectManifest(JSON.stringify(designProjectManifest()), { file: 'seed.json' }).value!);

  it('the seeds are valid documents', () => {
    expect(parseLockfileText(lockText, { file: 'rumpkg.lock' }).errors).toEqual([]);
    expect(parseComponentManifest(manifestText, { file: 'package.json' }).errors).toEqual([]);
    expect(parseProjectManifest(projectText, { file: 'rumpkg.json' }).errors).toEqual([]);
  });

  it('parseLockfileText: a lockfile that renders and reads back to itself, or problems', () => {
    fc.assert(
      fc.property(input, (muts) => {
        const text = mutate(lockText, muts);
        check('lockfile', text, () => parseLockfileText(text, { file: 'rumpkg.lock' }), (v) => {
          expect(parseLockfileText(renderLockfile(v), { file: 'rumpkg.lock' }).value).toEqual(v);
          for (const t of Object.values(v.targets)) for (const n of t.linkOrder) expect(t.components[n]).toBeDefined();
        });
      }),
      params,
    );
  }, 120_000);

  it('parseComponentManifest: a manifest whose name, version and target paths stay valid, or problems', () => {
    fc.assert(
      fc.property(input, (muts) => {
        const text = mutate(manifestText, muts);
        check('manifest', text, () => parseComponentManifest(text, { file: 'package.json' }), (v) => {
          for (const t of Object.values(v.rump.targets)) {
            for (const p of [t.archive, ...(t.objects ?? []), ...(t.linkerScript === undefined ? [] : [t.linkerScript])]) {
              expect(p.startsWith('/') || p.split('/').includes('..')).toBe(false);
            }
          }
          expect(parseComponentManifest(JSON.stringify(v), { file: 'package.json' }).value).toEqual(v);
        });
      }),
      params,
    );
  }, 120_000);

  it('parseProjectManifest: a project manifest that renders and reads back to itself, or problems', () => {
    fc.assert(
      fc.property(input, (muts) => {
        const text = mutate(projectText, muts);
        check('project', text, () => parseProjectManifest(text, { file: 'rumpkg.json' }), (v) => {
          expect(parseProjectManifest(renderProjectManifest(v), { file: 'rumpkg.json' }).value).toEqual(v);
        });
      }),
      params,
    );
  }, 120_000);

  describe('packuments', () => {
    /** A packument as the file registry stores it (published for real, then read back as text). */
    async function storedPackument(): Promise<{ dir: string; text: string; file: string }> {
      const dir = join(tempDir('fuzz-reg'), 'reg');
      const src = tempDir('fuzz-src');
      const s = createFileStorage(dir);
      for (const v of ['1.0.0', '1.1.0']) await s.publish((await packComponent(componentDir(src, { name: '@rump/fz', version: v, aliases: ['fuzzed'] }))).data);
      const file = join(dir, '@rump', 'fz', 'packument.json');
      return { dir, text: readFileSync(file, 'utf8'), file };
    }

    it('parsePackument (every registry kind): a packument keeping its shape, or E_REGISTRY', async () => {
      const { text } = await storedPackument();
      fc.assert(
        fc.property(input, (muts) => {
          const mutated = mutate(text, muts);
          check('packument', mutated, () => {
            try {
              return { value: parsePackument(mutated, { name: '@rump/fz', source: 'fuzz' }), errors: [] };
            } catch (e) {
              if (!isRumpkgError(e, 'E_REGISTRY')) throw e;
              expect(e.message).toContain('@rump/fz');
              return { errors: [e] };
            }
          }, (v) => {
            expect(v.name).toBe('@rump/fz');
            for (const [ver, doc] of Object.entries(v.versions)) {
              expect(typeof doc).toBe('object');
              if (doc.name !== undefined) expect(doc.name).toBe('@rump/fz');
              if (doc.version !== undefined) expect(doc.version).toBe(ver);
            }
          });
        }),
        params,
      );
    }, 120_000);

    it('the file registry reads a stored packument through the same reader: a packument or E_REGISTRY, never pollution', async () => {
      const { dir, text, file } = await storedPackument();
      const s = createFileStorage(dir);
      await fc.assert(
        fc.asyncProperty(input, async (muts) => {
          const mutated = mutate(text, muts);
          writeFileSync(file, mutated);
          let value: unknown;
          let refused = false;
          try {
            value = await s.readPackument('@rump/fz');
          } catch (e) {
            if (!isRumpkgError(e) || (e.code !== 'E_REGISTRY' && e.code !== 'E_NOT_FOUND')) throw e;
            refused = true;
          }
          if (!refused) {
            expect(hasDuplicateKey(mutated), 'a duplicate key was accepted').toBe(false);
            unpolluted(value);
          }
          tally('stored packument', !refused);
        }),
        { seed: SEED, numRuns: Math.ceil(RUNS / 5) },
      );
    }, 120_000);
  });

  it('the mutations exercise both outcomes for every reader', () => {
    for (const reader of ['lockfile', 'manifest', 'project', 'packument', 'stored packument']) {
      expect(outcomes[reader]?.ok ?? 0, `${reader}: values`).toBeGreaterThan(10);
      expect(outcomes[reader]?.refused ?? 0, `${reader}: refusals`).toBeGreaterThan(10);
    }
  });
});
