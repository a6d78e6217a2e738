/**
 * Mermaid flowchart text for dependency graphs (for Markdown that renders Mermaid: issues, wikis).
 * Same content and styles as dot.ts: one subgraph per target. Node ids are generated (`g0n3`), so
 * names never reach Mermaid's syntax; labels are quoted with Mermaid's entity codes (`#quot;`).
 */
import type { DependencyGraph } from './graph.js';

/** A quoted Mermaid label: `#`, `"`, `<`, `>`, `|` as entity codes; newlines as `<br/>`. */
export function quoteMermaid(s: string): string {
  const body = s
    .replace(/#/g, '#35;')
    .replace(/"/g, '#quot;')
    .replace(/</g, '#lt;')
    .replace(/>/g, '#gt;')
    .replace(/\|/g, '#124;')
    .replace(/\r\n|\r|\n/g, '<br/>');
  return `"${body}"`;
}

const CLASS_DEFS = [
  'classDef project fill:#dbe7fb,stroke:#1f4e9c,stroke-width:2px',
  'classDef component fill:#ffffff,stroke:#404040',
  'classDef platform fill:#fff1cc,stroke:#9a6b00',
  'classDef capability fill:#eaf1fb,stroke:#1f5fbf,stroke-dasharray:4 3,color:#1f5fbf',
  'classDef absent fill:#ffffff,stroke:#9a9a9a,stroke-dasharray:4 3,color:#6b6b6b',
  'classDef failed fill:#fde7e7,stroke:#c62828,stroke-width:2px',
  'classDef confirmed stroke:#2e7d32,stroke-width:2px',
];
const RED = new Set(['failed', 'modified', 'claimed-but-absent', 'present-but-unclaimed']);

export function renderMermaid(graphs: readonly DependencyGraph[]): string {
  const out: string[] = ['flowchart TB'];
  const links: string[] = [];
  const linkStyles: string[] = [];
  const classes = new Map<string, string[]>();
  graphs.forEach((g, gi) => {
    const ids = new Map(g.nodes.map((n, i) => [n.id, `g${gi}n${i}`]));
    const title = g.outcome === 'failed' ? `${g.target}: resolution failed` : g.target;
    out.push(`  subgraph g${gi}[${quoteMermaid(title)}]`);
    for (const n of g.nodes) {
      const lines = [n.label, ...(n.version === undefined ? [] : [n.version]), ...n.notes];
      const id = ids.get(n.id)!;
      out.push(`    ${id}[${quoteMermaid(lines.join('\n'))}]`);
      const cls = n.status !== undefined && RED.has(n.status) ? 'failed' : n.status === 'confirmed' ? 'confirmed' : n.kind;
      classes.set(cls, [...(classes.get(cls) ?? []), id]);
    }
    out.push('  end');
    for (const e of g.edges) {
      const from = ids.get(e.from)!;
      const to = ids.get(e.to)!;
      const label = e.label === '' ? '' : `|${quoteMermaid(e.label)}|`;
      const op = e.kind === 'dependency' ? '-->' : e.kind === 'conflict' ? 'x--x' : '-.->';
      const index = links.length;
      links.push(`  ${from} ${op}${label} ${to}`);
      if (e.kind === 'capability') linkStyles.push(`  linkStyle ${index} stroke:#1f5fbf,color:#1f5fbf`);
      else if (e.kind === 'optional') linkStyles.push(`  linkStyle ${index} stroke:#9a9a9a,stroke-dasharray:2 4,color:#6b6b6b`);
      else if (e.kind === 'conflict') linkStyles.push(`  linkStyle ${index} stroke:#c62828,stroke-width:2px,color:#c62828`);
    }
  });
  out.push(...links, ...linkStyles);
  out.push(...CLASS_DEFS.map((c) => `  ${c}`));
  for (const [cls, ids] of [...classes].sort(([a], [b]) => (a < b ? -1 : 1))) out.push(`  class ${ids.join(',')} ${cls}`);
  return `${out.join('\n')}\n`;
}
