/**
 * The size treemap of an image: one rectangle per owner of a size report (component, platform,
 * glue, app, runtime, unattributed), area ∝ allocated bytes, split inside into text / data / bss.
 * Layout by d3-hierarchy's squarified treemap (ESM-only, imported on first use); rendering to SVG
 * here, with every label escaped. Deterministic: same report, same rectangles, same markup.
 */
import type { HierarchyRectangularNode } from 'd3-hierarchy';
import { html, type Html } from '../../registry/index.js';
import type { SizeReport } from '../audit/index.js';

export interface TreemapCell {
  /** The owner (component name, `glue`, `app`, `runtime`, `(unattributed)`). */
  owner: string;
  kind: string;
  /** `total` for the owner's box; `text`, `data`, `bss` for the parts inside it. */
  part: 'total' | 'text' | 'data' | 'bss';
  bytes: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

interface Datum {
  name: string;
  kind?: string;
  part?: 'text' | 'data' | 'bss';
  value?: number;
  children?: Datum[];
}

const round = (n: number): number => Math.round(n * 10) / 10;

/** Lays out `size` in a `width` × `height` box (pixels); owners with no bytes are left out. */
export async function planTreemap(size: SizeReport, options: { width?: number; height?: number } = {}): Promise<TreemapCell[]> {
  const width = options.width ?? 960;
  const height = options.height ?? 480;
  const d3 = await import('d3-hierarchy');
  const owners: Datum[] = size.rows
    .filter((r) => r.total > 0)
    .map((r) => ({
      name: r.owner,
      kind: r.kind,
      children: (['text', 'data', 'bss'] as const).filter((p) => r[p] > 0).map((p) => ({ name: r.owner, kind: r.kind, part: p, value: r[p] })),
    }));
  if (size.unattributed > 0) owners.push({ name: '(unattributed)', kind: 'unattributed', children: [{ name: '(unattributed)', kind: 'unattributed', part: 'data', value: size.unattributed }] });
  if (owners.length === 0) return [];
  const root = d3
    .hierarchy<Datum>({ name: 'image', children: owners })
    .sum((d) => d.value ?? 0)
    // Biggest first; names break ties, so the layout never depends on input order.
    .sort((a, b) => (b.value ?? 0) - (a.value ?? 0) || (a.data.name < b.data.name ? -1 : a.data.name > b.data.name ? 1 : 0) || (a.data.part ?? '').localeCompare(b.data.part ?? ''));
  d3.treemap<Datum>().tile(d3.treemapSquarify).size([width, height]).paddingOuter(2).paddingTop((n) => (n.depth === 1 ? 16 : 0)).paddingInner(1).round(false)(root);
  const cells: TreemapCell[] = [];
  for (const n of root.descendants() as Array<HierarchyRectangularNode<Datum>>) {
    if (n.depth === 0) continue;
    cells.push({
      owner: n.data.name,
      kind: n.data.kind ?? '',
      part: n.depth === 1 ? 'total' : (n.data.part ?? 'data'),
      bytes: n.value ?? 0,
      x: round(n.x0),
      y: round(n.y0),
      width: round(n.x1 - n.x0),
      height: round(n.y1 - n.y0),
    });
  }
  return cells;
}

const FILL: Record<string, Record<string, string>> = {
  component: { text: '#3b6fc4', data: '#7da2dd', bss: '#c4d5f0', total: '#e9eff9' },
  platform: { text: '#b8860b', data: '#d9b257', bss: '#f0deb0', total: '#fbf3df' },
  glue: { text: '#2e8b57', data: '#6dbb8e', bss: '#bfe3cd', total: '#eaf6ef' },
  app: { text: '#8e44ad', data: '#b784cf', bss: '#e0c7ec', total: '#f5ecf9' },
  runtime: { text: '#616161', data: '#9e9e9e', bss: '#d6d6d6', total: '#f0f0f0' },
  unattributed: { text: '#bdbdbd', data: '#e0e0e0', bss: '#eeeeee', total: '#fafafa' },
};

/** A rough width of `s` in pixels at `size` px (sans-serif), to decide whether a label fits. */
function textWidth(s: string, size: number): number {
  return s.length * size * 0.6;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

/** The treemap as an inline SVG element (with a `<title>` per box: owner, part, bytes). */
export function renderTreemapSvg(cells: readonly TreemapCell[], options: { width?: number; height?: number } = {}): Html {
  const width = options.width ?? 960;
  const height = options.height ?? 480;
  const parts: Html[] = [];
  for (const c of cells) {
    const fill = (FILL[c.kind] ?? FILL.component!)[c.part]!;
    if (c.part === 'total') {
      const label = `${c.owner.replace(/^@rump\//, '')} ${formatBytes(c.bytes)}`;
      const fits = c.width > 24 && textWidth(label, 11) < c.width - 6;
      const short = c.owner.replace(/^@rump\//, '');
      const text = fits ? label : textWidth(short, 11) < c.width - 6 ? short : '';
      parts.push(
        html`<g class="owner" data-owner="${c.owner}"><rect x="${c.x}" y="${c.y}" width="${c.width}" height="${c.height}" fill="${fill}" stroke="#5f6368" stroke-width="0.6"><title>${c.owner} (${c.kind}): ${formatBytes(c.bytes)}</title></rect>${text === '' ? '' : html`<text x="${round(c.x + 4)}" y="${round(c.y + 12)}" font-size="11" fill="#1d1d1f">${text}</text>`}</g>`,
      );
    } else {
      parts.push(html`<rect class="part-${c.part}" x="${c.x}" y="${c.y}" width="${c.width}" height="${c.height}" fill="${fill}"><title>${c.owner} ${c.part}: ${formatBytes(c.bytes)}</title></rect>`);
    }
  }
  return html`<svg class="treemap" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="size treemap" font-family="system-ui, DejaVu Sans, sans-serif">${parts}</svg>`;
}
