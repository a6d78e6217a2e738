/**
 * HTML built safely: `html` is a tagged template whose every interpolated value is escaped with
 * one function (`escapeHtml`, the escape-html package: `& < > " '`), unless it is already `Html`
 * (the result of `html` itself, or `trustedHtml` for markup rumpkg made, such as Graphviz's SVG).
 * Arrays are joined; null, undefined and false render as nothing. Attribute values must be quoted
 * with `"` in the template; URLs are built by `hrefTo` from validated names only.
 * Shared by the registry's web pages and the audit's HTML report (packager/report).
 */
import escape from 'escape-html';

/** A piece of markup that is safe to insert as it is. */
export class Html {
  constructor(readonly markup: string) {}
  toString(): string {
    return this.markup;
  }
}

/** The one HTML escape of rumpkg: text → markup that shows exactly that text. */
export function escapeHtml(value: string): string {
  return escape(value);
}

/** Markup rumpkg produced itself (never text from a manifest, a packument or a request). */
export function trustedHtml(markup: string): Html {
  return new Html(markup);
}

function piece(v: unknown): string {
  if (v instanceof Html) return v.markup;
  if (Array.isArray(v)) return v.map(piece).join('');
  if (v === null || v === undefined || v === false) return '';
  return escapeHtml(String(v));
}

/** A template whose interpolations are escaped (see the module head). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += piece(values[i]) + (strings[i + 1] ?? '');
  return new Html(out);
}
