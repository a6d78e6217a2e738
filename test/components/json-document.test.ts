/**
 * The safe JSON reader's key scan (components/documents/json.ts) jumps over strings without a
 * backslash in one search: these cases pin that it still sees every key (escaped ones included),
 * never counts brackets inside strings, and reports the same pointers as a character-by-character
 * scan would.
 */
import { describe, expect, it } from 'vitest';
import { parseJsonDocument } from '../../components/index.js';

type Failure = { code?: string; message: string; context?: { pointer?: string } };
const fails = (text: string, maxDepth?: number): Failure => {
  try {
    parseJsonDocument(text, { file: 'doc.json', ...(maxDepth === undefined ? {} : { maxDepth }) });
  } catch (e) {
    return e as Failure;
  }
  throw new Error(`accepted: ${text.slice(0, 80)}`);
};

describe('the safe JSON reader', () => {
  it('finds duplicate and forbidden keys after, between and inside escaped strings', () => {
    expect(fails('{"a\\"b": 1, "a\\"b": 2}')).toMatchObject({ code: 'E_SCHEMA', context: { pointer: '/a"b' } });
    expect(fails('{"x": "va\\\\lue", "__proto__": 1}')).toMatchObject({ code: 'E_SCHEMA', context: { pointer: '/__proto__' } });
    expect(fails('{"p": {"q\\u0041": 1, "qA": 2}}')).toMatchObject({ code: 'E_SCHEMA', context: { pointer: '/p/qA' } });
    expect(fails('{"a": "\\\\", "b": "\\"", "c": ["\\\\\\"", {"d": 1, "d": 2}]}')).toMatchObject({ code: 'E_SCHEMA', context: { pointer: '/c/1/d' } });
    // the last key of a long document, after hundreds of escaped and plain strings
    const keys = Array.from({ length: 600 }, (_, i) => `"k${i}${i % 7 === 0 ? '\\\\' : ''}": "v${i % 5 === 0 ? '\\"' : ''}${'{[,]}'.repeat(i % 3)}"`);
    expect(fails(`{\n  ${keys.join(',\n  ')},\n  "k3": 0\n}`)).toMatchObject({ code: 'E_SCHEMA', context: { pointer: '/k3' } });
  });

  it('never counts brackets, braces or commas inside strings', () => {
    const doc = { a: '[[[[[[[[{{{{{{', b: '\\"]]]]}}}},,,', c: [1, ',', '"', { d: '\\' }] };
    expect(parseJsonDocument(JSON.stringify(doc), { file: 'doc.json', maxDepth: 3 })).toEqual(doc);
    expect(parseJsonDocument(JSON.stringify(doc, null, 2), { file: 'doc.json', maxDepth: 3 })).toEqual(doc);
    expect(fails('{"a": [[["x"]]]}', 3)).toMatchObject({ code: 'E_SCHEMA', context: { pointer: '/a/0/0' } });
    // array indexes counted by the commas outside strings only
    expect(fails('[",", "a,b", {"k": 1, "k": 2}]')).toMatchObject({ code: 'E_SCHEMA', context: { pointer: '/2/k' } });
  });

  it('reports malformed text as E_JSON_PARSE, whatever the scan skipped', () => {
    for (const text of ['{"a": "abc', '{"a": 1 \\ , "b": 2}', '{"a\\', '"\\', '{"a": "\\"}', '[1, 2']) {
      expect(fails(text).code, text).toBe('E_JSON_PARSE');
    }
  });
});
