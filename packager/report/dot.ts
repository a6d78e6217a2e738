/**
 * DOT (Graphviz) text for dependency graphs: one digraph, one cluster per target, so targets sit
 * side by side (why does hw-x86_64 pull pci where hw-riscv64 pulls virtio-mmio?). Pure and
 * deterministic. Every identifier and label is a quoted DOT string (`quoteDot`), so a name can
 * never break out of its statement.
 *
 * Styles (also in the graph's own legend line):
 *   dependency  solid dark arrow, labelled with the range
 *   capability  dashed blue arrow, labelled with the capability (any provider of it would do)
 *   optional    dotted grey arrow to a grey dashed node (recorded, not pulled in)
 *   conflict    bold red line, both ends barred
 *   nodes       project: blue; platform package: amber, 3-D box; capability (failures): ellipse;
 *               failed / modified / absent from the image: red; confirmed by the audit: green
 */
import type { DependencyGraph, GraphEdge, GraphNode } from './graph.js';

/** A DOT double-quoted string: `"` and `\` escaped, newlines as `\n` (centred lines). */
export function quoteDot(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r\n|\r|\n/g, '\\n')}"`;
}

export const GRAPH_LEGEND = 'solid: dependency (range)   dashed blue: capability (any provider)   dotted grey: optional (not pulled in)   red: conflict or failure';

const FONT = 'Helvetica,Arial,sans-serif';

const RED = new Set(['failed', 'modified', 'claimed-but-absent', 'present-but-unclaimed']);

function nodeAttrs(n: GraphNode): Record<string, string> {
  const lines = [n.label];
  if (n.version !== undefined) lines.push(n.version);
  for (const note of n.notes) lines.push(note);
  const a: Record<string, string> = { label: lines.join('\n'), tooltip: [n.label, n.version, n.license, n.status].filter((x) => x !== undefined).join(' ') };
  switch (n.kind) {
    case 'project':
      Object.assign(a, { shape: 'box', style: 'rounded,filled,bold', fillcolor: '#dbe7fb', color: '#1f4e9c' });
      break;
    case 'platform':
      Object.assign(a, { shape: 'box3d', style: 'filled', fillcolor: '#fff1cc', color: '#9a6b00' });
      break;
    case 'capability':
      Object.assign(a, { shape: 'ellipse', style: 'filled,dashed', fillcolor: '#eaf1fb', color: '#1f5fbf', fontcolor: '#1f5fbf' });
      break;
    case 'absent':
      Object.assign(a, { shape: 'box', style: 'rounded,dashed', color: '#9a9a9a', fontcolor: '#6b6b6b' });
      break;
    case 'component':
      Object.assign(a, { shape: 'box', style: 'rounded,filled', fillcolor: '#ffffff', color: '#404040' });
      break;
  }
  if (n.status !== undefined && RED.has(n.status)) Object.assign(a, { color: '#c62828', fillcolor: '#fde7e7', penwidth: '2' });
  else if (n.status === 'confirmed') Object.assign(a, { color: '#2e7d32', penwidth: '2' });
  else if (n.status === 'unverified') Object.assign(a, { color: '#b26a00', penwidth: '2' });
  return a;
}

function edgeAttrs(e: GraphEdge): Record<string, string> {
  const a: Record<string, string> = e.label === '' ? {} : { label: e.label };
  switch (e.kind) {
    case 'dependency':
      Object.assign(a, { color: '#404040', fontcolor: '#404040' });
      break;
    case 'capability':
      Object.assign(a, { style: 'dashed', color: '#1f5fbf', fontcolor: '#1f5fbf' });
      break;
    case 'optional':
      Object.assign(a, { style: 'dotted', color: '#9a9a9a', fontcolor: '#6b6b6b', arrowhead: 'odiamond' });
      break;
    case 'conflict':
      Object.assign(a, { style: 'bold', color: '#c62828', fontcolor: '#c62828', dir: 'both', arrowhead: 'tee', arrowtail: 'tee', constraint: 'false' });
      break;
  }
  return a;
}

function attrList(a: Record<string, string>): string {
  const keys = Object.keys(a);
  return keys.length === 0 ? '' : ` [${keys.map((k) => `${k}=${quoteDot(a[k]!)}`).join(', ')}]`;
}

/** The DOT node id of `id` in graph number `index` (targets never share nodes). */
export function dotNodeId(graph: DependencyGraph, id: string): string {
  return `${graph.target}|${id}`;
}

const plural = (target: string, n: number): string => `${target}: ${n} component${n === 1 ? '' : 's'}`;

/** One digraph holding every graph as a cluster labelled with its target. */
export function renderDot(graphs: readonly DependencyGraph[], options: { title?: string; /** The style legend under the graph (default true; pages that print their own say false). */ legend?: boolean } = {}): string {
  const title = options.title ?? (graphs[0]?.project ?? 'rumpkg');
  const out: string[] = [];
  out.push(`digraph ${quoteDot(title)} {`);
  out.push(`  graph${attrList({ rankdir: 'TB', fontname: FONT, fontsize: '12', labelloc: 'b', label: options.legend === false ? title : `${title}\n${GRAPH_LEGEND}`, nodesep: '0.3', ranksep: '0.5', bgcolor: 'white' })};`);
  out.push(`  node${attrList({ fontname: FONT, fontsize: '11', margin: '0.2,0.08' })};`);
  out.push(`  edge${attrList({ fontname: FONT, fontsize: '9', arrowsize: '0.7' })};`);
  graphs.forEach((g, i) => {
    const clusterLabel = g.outcome === 'failed' ? `${g.target}: resolution failed` : plural(g.target, g.nodes.filter((n) => n.kind === 'component' || n.kind === 'platform').length);
    out.push(`  subgraph ${quoteDot(`cluster_${i}`)} {`);
    out.push(`    graph${attrList({ label: clusterLabel, labelloc: 't', fontsize: '14', style: 'rounded', color: g.outcome === 'failed' ? '#c62828' : '#b0b0b0' })};`);
    for (const n of g.nodes) out.push(`    ${quoteDot(dotNodeId(g, n.id))}${attrList(nodeAttrs(n))};`);
    for (const e of g.edges) out.push(`    ${quoteDot(dotNodeId(g, e.from))} -> ${quoteDot(dotNodeId(g, e.to))}${attrList(edgeAttrs(e))};`);
    out.push('  }');
  });
  out.push('}');
  return `${out.join('\n')}\n`;
}
