/**
 * A safe JSON parser for documents that come from outside (manifests, lockfiles, registry
 * metadata; RELIABILITY IN-05). Before `JSON.parse` runs, one linear scan enforces a byte cap
 * and a nesting-depth cap, and checks every object key: `__proto__`, `constructor` and
 * `prototype` are refused (no prototype pollution downstream) and so are duplicate keys (two
 * parsers could otherwise read two different documents — manifest confusion, IN-04).
 * Failures are RumpkgErrors naming the file and the JSON pointer of the offending place.
 */
import { jsonPointer } from '../../schemas/index.js';
import { RumpkgError } from '../model/index.js';

/** Default caps: generous for manifests and lockfiles, small enough to bound memory and time. */
const JSON_DEFAULT_MAX_BYTES = 8 * 1024 * 1024;
const JSON_DEFAULT_MAX_DEPTH = 64;
/** Keys refused in any object. */
const FORBIDDEN_JSON_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype'];

interface ParseJsonOptions {
  /** The file as the user named it; every error message starts with it. */
  file: string;
  maxBytes?: number;
  maxDepth?: number;
}

interface Frame {
  array: boolean;
  /** Array: current index. Object: the last key seen. */
  index: number;
  key: string;
  keys: Set<string> | undefined;
  /** Object: the next string is a key. */
  expectKey: boolean;
}

function pointerOf(stack: readonly Frame[]): string {
  return jsonPointer(...stack.map((f) => (f.array ? f.index : f.key)));
}

function lineCol(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  }
  return { line, column: offset - last };
}

/**
 * Parses `input` (string or UTF-8 bytes) as JSON within the caps; returns the value or throws
 * E_SCHEMA (size, depth, forbidden or duplicate key) or E_JSON_PARSE (syntax), naming the file.
 */
export function parseJsonDocument(input: string | Uint8Array, options: ParseJsonOptions): unknown {
  const { file } = options;
  const maxBytes = options.maxBytes ?? JSON_DEFAULT_MAX_BYTES;
  const maxDepth = options.maxDepth ?? JSON_DEFAULT_MAX_DEPTH;
  const bytes = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.byteLength;
  if (bytes > maxBytes) {
    throw new RumpkgError('E_SCHEMA', `${file}: document is ${bytes} bytes, more than the limit of ${maxBytes}`, {
      context: { file, pointer: '', bytes, maxBytes, expected: `at most ${maxBytes} bytes` },
      hint: 'this is not a rumpkg document, or it was tampered with',
    });
  }
  let text: string;
  try {
    text = typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: true }).decode(input);
  } catch (e) {
    throw new RumpkgError('E_JSON_PARSE', `${file}: not valid UTF-8`, { context: { file }, hint: 'JSON documents are UTF-8 text', cause: e });
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);

  const keyProblems = scan(text, file, maxDepth);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const offset = syntaxErrorOffset(text);
    const where = lineCol(text, offset);
    const detail = offset >= text.length ? 'unexpected end of input' : `unexpected ${JSON.stringify(text.slice(offset, offset + 1))}`;
    throw new RumpkgError('E_JSON_PARSE', `${file}: invalid JSON at line ${where.line}, column ${where.column}: ${detail}`, {
      context: { file, ...where, expected: 'valid JSON (RFC 8259)' },
      hint: 'fix the JSON syntax (a JSON linter shows the exact place)',
      cause: e,
    });
  }
  const first = keyProblems[0];
  if (first !== undefined) {
    throw new RumpkgError('E_SCHEMA', `${file}: ${first.pointer}: ${first.message}`, {
      context: { file, pointer: first.pointer, expected: first.expected, problems: keyProblems.slice(0, 20) },
      hint: first.hint,
    });
  }
  return value;
}

interface KeyProblem {
  pointer: string;
  message: string;
  expected: string;
  hint: string;
}

/**
 * One pass over the text: tracks strings (so brackets inside them do not count), the nesting
 * stack (depth cap, thrown at once) and the keys of each object. Malformed input never makes it
 * loop or throw here; `JSON.parse` reports syntax afterwards.
 */
function scan(text: string, file: string, maxDepth: number): KeyProblem[] {
  const stack: Frame[] = [];
  const problems: KeyProblem[] = [];
  const n = text.length;
  // The next backslash at or after the current string (-1: none left; -2: not looked up yet): a
  // string without one ends at the next quote, found by indexOf (V8 searches natively) instead of
  // character by character, and the backslash is looked up again only once passed, so the text is
  // searched for backslashes once in all. (Finding the structural characters with a regular
  // expression as well was faster on a pretty-printed store index but ~2x slower on the audit's
  // dense documents: one exec per comma costs more than the loop.)
  let backslash = -2;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      let escaped = false;
      if (backslash !== -1 && backslash <= start) backslash = text.indexOf('\\', start + 1);
      const quote = text.indexOf('"', start + 1);
      if (quote !== -1 && (backslash === -1 || backslash > quote)) i = quote;
      else {
        i++;
        while (i < n) {
          const d = text.charCodeAt(i);
          if (d === 0x5c /* \ */) {
            escaped = true;
            i += 2;
          } else if (d === 0x22) break;
          else i++;
        }
      }
      const top = stack[stack.length - 1];
      if (top !== undefined && !top.array && top.expectKey) {
        let key = text.slice(start + 1, i);
        if (escaped) {
          try {
            key = JSON.parse(text.slice(start, i + 1)) as string;
          } catch {
            // malformed escape: JSON.parse reports it below
          }
        }
        top.key = key;
        top.expectKey = false;
        if (problems.length < 100) {
          if (FORBIDDEN_JSON_KEYS.includes(key)) {
            problems.push({
              pointer: pointerOf(stack),
              message: `the key "${key}" is not allowed`,
              expected: `no "${FORBIDDEN_JSON_KEYS.join('", "')}" keys`,
              hint: `"${FORBIDDEN_JSON_KEYS.join('", "')}" are refused in every rumpkg document (prototype pollution)`,
            });
          } else if (top.keys?.has(key) === true) {
            problems.push({
              pointer: pointerOf(stack),
              message: `the key "${key}" appears twice in one object`,
              expected: 'each key once per object',
              hint: 'remove the duplicate key; rumpkg refuses documents that two JSON parsers could read differently',
            });
          }
          top.keys?.add(key);
        }
      }
      i++;
      continue;
    }
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= maxDepth) {
        throw new RumpkgError('E_SCHEMA', `${file}: ${pointerOf(stack) || '(root)'}: nesting deeper than ${maxDepth} levels`, {
          context: { file, pointer: pointerOf(stack), maxDepth, expected: `at most ${maxDepth} levels of nesting` },
          hint: 'rumpkg documents are shallow; this one is malformed or hostile',
        });
      }
      stack.push({ array: c === 0x5b, index: 0, key: '', keys: c === 0x7b ? new Set() : undefined, expectKey: c === 0x7b });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top !== undefined) {
        if (top.array) top.index++;
        else top.expectKey = true;
      }
    }
    i++;
  }
  return problems;
}

/**
 * The offset of the first syntax error in `text` (called only after JSON.parse failed, on text
 * whose depth the scan already bounded). A small recursive-descent checker of RFC 8259.
 */
function syntaxErrorOffset(text: string): number {
  let i = 0;
  const n = text.length;
  const ws = (): void => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const literal = (word: string): void => {
    if (text.startsWith(word, i)) i += word.length;
    else fail();
  };
  const string = (): void => {
    i++; // opening quote
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail();
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
            i += 1;
            fail();
          }
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else {
          i += 1;
          fail();
        }
      } else i++;
    }
    fail();
  };
  const number = (): void => {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (m === null || m[0] === '' || m[0] === '-') fail();
    i += (m as RegExpExecArray)[0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return;
        } else fail();
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return;
        } else fail();
      }
    } else if (c === '"') string();
    else if (c === 't') literal('true');
    else if (c === 'f') literal('false');
    else if (c === 'n') literal('null');
    else number();
  };
  try {
    value();
    ws();
    if (i < n) fail();
    return n;
  } catch (at) {
    if (typeof at === 'number') return at;
    throw at;
  }
}
