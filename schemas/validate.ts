/**
 * Compiled validators for every document schema. Ajv (draft 2020-12, `allErrors`, strict mode)
 * compiles each schema lazily, once per process. Problems are plain data
 * (`{file, pointer, message, expected}`) so callers can render them, attach them to an error, or
 * print them as JSON; `formatProblems` renders the human form
 * `package.json: /rump/lib: "x" must match pattern "^lib[a-z0-9_]+$" (expected A NetBSD library name …)`.
 */
import { createRequire } from 'node:module';
import type { Ajv2020, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { componentManifestSchema } from './component-manifest.schema.js';
import { imageManifestSchema } from './image-manifest.schema.js';
import { lockfileSchema } from './lockfile.schema.js';
import { projectManifestSchema } from './project-manifest.schema.js';

/** Every document format rumpkg reads. */
export const DOCUMENT_KINDS = ['component-manifest', 'project-manifest', 'lockfile', 'image-manifest'] as const;
export type DocumentKind = (typeof DOCUMENT_KINDS)[number];

/** Which check found a problem: JSON syntax/limits, the JSON Schema, or a semantic rule. */
type ProblemStage = 'parse' | 'schema' | 'semantic';

/** One thing wrong with a document. */
export interface DocumentProblem {
  /** The file as the user named it (or a label such as `<registry metadata>`). */
  file: string;
  /** JSON pointer (RFC 6901) to the offending value; `` is the whole document. */
  pointer: string;
  message: string;
  /** What would have been accepted there. */
  expected: string;
  stage: ProblemStage;
}

export interface DocumentResult<T> {
  /** Present only when there are no errors. */
  value?: T;
  errors: DocumentProblem[];
}

/** The JSON Schema of each document kind. */
export const SCHEMAS: Readonly<Record<DocumentKind, object>> = {
  'component-manifest': componentManifestSchema,
  'project-manifest': projectManifestSchema,
  lockfile: lockfileSchema,
  'image-manifest': imageManifestSchema,
};

/** At most this many problems are reported per document (the rest are summarised). */
const MAX_PROBLEMS = 100;

/** The ajv options every validator is compiled with (scripts/compile-schemas.mjs uses them too). */
export const AJV_OPTIONS = { allErrors: true, strict: true, verbose: true, allowUnionTypes: false } as const;

let ajv: Ajv2020 | undefined;
const compiled = new Map<DocumentKind, ValidateFunction>();
let precompiled: Partial<Record<DocumentKind, ValidateFunction>> | null | undefined;

/**
 * The validators precompiled at build time (dist/schemas/validators.generated.cjs), or null when
 * running from sources. Loading them costs ~1 ms; compiling costs ~100 ms per process.
 */
function loadPrecompiled(): Partial<Record<DocumentKind, ValidateFunction>> | null {
  if (precompiled !== undefined) return precompiled;
  try {
    precompiled = createRequire(import.meta.url)('./validators.generated.cjs') as Partial<Record<DocumentKind, ValidateFunction>>;
  } catch {
    precompiled = null;
  }
  return precompiled;
}

function validatorFor(kind: DocumentKind): ValidateFunction {
  let v = compiled.get(kind);
  if (v === undefined) {
    v = loadPrecompiled()?.[kind];
    if (v === undefined) {
      // ajv's compiler is loaded only when a validator was not precompiled (sources, tests).
      if (ajv === undefined) {
        const { Ajv2020: AjvClass } = createRequire(import.meta.url)('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
        ajv = new AjvClass({ ...AJV_OPTIONS });
      }
      v = ajv.compile(SCHEMAS[kind]);
    }
    compiled.set(kind, v);
  }
  return v;
}

/** Validates `doc` against the schema of `kind`. `T` is the caller's type for that kind. */
export function validateDocument<T = unknown>(
  kind: DocumentKind,
  doc: unknown,
  options: { file: string },
): DocumentResult<T> {
  const validate = validatorFor(kind);
  if (validate(doc)) return { value: doc as T, errors: [] };
  return { errors: problemsFromAjv(validate.errors ?? [], options.file) };
}

/** Escapes one reference token of a JSON pointer (RFC 6901). */
function escapePointerToken(token: string | number): string {
  return String(token).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Joins reference tokens into a JSON pointer. */
export function jsonPointer(...tokens: Array<string | number>): string {
  return tokens.map((t) => `/${escapePointerToken(t)}`).join('');
}

/** Renders problems one per line: `FILE: POINTER: MESSAGE (expected …)`. */
export function formatProblems(problems: readonly DocumentProblem[]): string {
  return problems
    .map((p) => `${p.file}: ${p.pointer === '' ? '(root)' : p.pointer}: ${p.message}${p.expected === '' ? '' : ` (expected ${p.expected})`}`)
    .join('\n');
}

function show(value: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function shortPattern(p: string): string {
  return p.length > 60 ? `${p.slice(0, 57)}...` : p;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (Number.isInteger(value)) return 'integer';
  return typeof value;
}

function describeSchema(schema: unknown): string {
  if (schema !== null && typeof schema === 'object' && typeof (schema as { description?: unknown }).description === 'string') {
    return (schema as { description: string }).description;
  }
  return '';
}

function listOf(values: readonly unknown[]): string {
  const shown = values.slice(0, 16).map((v) => show(v));
  return values.length > 16 ? `${shown.join(', ')}, … (${values.length} in all)` : shown.join(', ');
}

function problemFromError(e: ErrorObject, file: string): DocumentProblem {
  const at = e.instancePath;
  const desc = describeSchema(e.parentSchema);
  const params = e.params as Record<string, unknown>;
  const withDesc = (s: string): string => (desc === '' ? s : `${s}: ${desc}`);
  const base = { file, stage: 'schema' as const };
  switch (e.keyword) {
    case 'required': {
      const key = String(params.missingProperty);
      const props = (e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
      return { ...base, pointer: `${at}/${escapePointerToken(key)}`, message: `missing required key "${key}"`, expected: describeSchema(props?.[key]) || `a value for "${key}"` };
    }
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const props = Object.keys((e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {});
      return { ...base, pointer: `${at}/${escapePointerToken(key)}`, message: `unknown key "${key}"`, expected: props.length > 0 ? `one of the keys ${listOf(props)}` : 'no other keys' };
    }
    case 'type':
      return { ...base, pointer: at, message: `must be ${String(params.type)}, not ${typeOf(e.data)}`, expected: withDesc(`type ${String(params.type)}`) };
    case 'enum':
      return { ...base, pointer: at, message: `${show(e.data)} is not an allowed value`, expected: `one of ${listOf((params.allowedValues as unknown[]) ?? [])}` };
    case 'const':
      return { ...base, pointer: at, message: `${show(e.data)} is not allowed here`, expected: show(params.allowedValue) };
    case 'pattern':
      return { ...base, pointer: at, message: `${show(e.data)} must match pattern "${shortPattern(String(params.pattern))}"`, expected: desc || `a string matching ${String(params.pattern)}` };
    case 'anyOf':
      return { ...base, pointer: at, message: `${show(e.data)} does not match any allowed form`, expected: desc || 'one of the allowed forms' };
    default:
      return { ...base, pointer: at, message: e.message ?? `fails ${e.keyword}`, expected: desc };
  }
}

/** Converts ajv errors to problems, folding the noise of `anyOf` branches and `propertyNames`. */
function problemsFromAjv(errors: readonly ErrorObject[], file: string): DocumentProblem[] {
  // Branch errors of an anyOf are replaced by the anyOf error itself.
  const anyOfPaths = errors.filter((e) => e.keyword === 'anyOf').map((e) => ({ at: e.instancePath, schema: `${e.schemaPath}/` }));
  const out: DocumentProblem[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (e.keyword !== 'anyOf' && anyOfPaths.some((a) => e.instancePath.startsWith(a.at) && e.schemaPath.startsWith(a.schema))) continue;
    let p: DocumentProblem;
    if (e.propertyName !== undefined) {
      // An error inside propertyNames: point at the key itself.
      const inner = problemFromError({ ...e, data: e.propertyName }, file);
      p = { ...inner, pointer: `${e.instancePath}/${escapePointerToken(e.propertyName)}`, message: `key ${inner.message}` };
    } else if (e.keyword === 'propertyNames') {
      const key = String((e.params as { propertyName?: unknown }).propertyName);
      p = { file, stage: 'schema', pointer: `${e.instancePath}/${escapePointerToken(key)}`, message: `key "${key}" is not allowed`, expected: describeSchema(e.parentSchema) };
    } else {
      p = problemFromError(e, file);
    }
    const id = `${p.pointer}\u0000${p.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(p);
  }
  // One propertyNames failure yields an inner error and an outer one; keep the more precise.
  const precise = out.filter((p, _i, all) => !(p.message.startsWith('key "') && p.message.endsWith('is not allowed') && all.some((q) => q !== p && q.pointer === p.pointer)));
  if (precise.length > MAX_PROBLEMS) {
    const rest = precise.length - MAX_PROBLEMS;
    return [...precise.slice(0, MAX_PROBLEMS), { file, stage: 'schema', pointer: '', message: `… and ${rest} more problems`, expected: '' }];
  }
  return precise;
}
