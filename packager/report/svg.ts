/**
 * SVG from DOT, in-process: Graphviz compiled to WebAssembly (@hpcc-js/wasm-graphviz), so no
 * system `dot` is needed. The package is ESM-only and ~2 MB, so it is loaded on first use only
 * (`rumpkg --version` and every other command never pay for it) and kept for the process.
 * Graphviz escapes label text in its SVG output (`<` → `&lt;`, `-` → `&#45;` in comments), and
 * the DOT it gets quotes every string (dot.ts), so the SVG is safe to inline in HTML.
 */
import type { DependencyGraph } from './graph.js';
import { renderDot } from './dot.js';

type GraphvizModule = typeof import('@hpcc-js/wasm-graphviz');
type Graphviz = Awaited<ReturnType<GraphvizModule['Graphviz']['load']>>;

let loading: Promise<Graphviz> | undefined;

function graphviz(): Promise<Graphviz> {
  loading ??= import('@hpcc-js/wasm-graphviz').then((m) => m.Graphviz.load());
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}

/** Lays out DOT text with Graphviz `dot` and returns the SVG document. */
export async function renderDotSvg(dot: string): Promise<string> {
  return (await graphviz()).dot(dot, 'svg');
}

/** The SVG document of `graphs` (one cluster per target). */
export async function renderGraphSvg(graphs: readonly DependencyGraph[], options: { title?: string; legend?: boolean } = {}): Promise<string> {
  return renderDotSvg(renderDot(graphs, options));
}

/** An SVG document without its XML prolog, doctype and leading comments, to inline in HTML. */
export function svgForHtml(svg: string): string {
  const i = svg.indexOf('<svg');
  return i < 0 ? '' : svg.slice(i).trimEnd();
}

/** The version of Graphviz inside the WebAssembly module (for reports). */
export async function graphvizVersion(): Promise<string> {
  return (await graphviz()).version();
}
