/**
 * packager/report graphs: the demo project's closures (examples/hello-virtio on hw-x86_64 and
 * hw-riscv64, installed from the miniature corpus) as a graph model, DOT checked by parsing it
 * with a DOT parser (dotparser), SVG laid out by Graphviz-in-WebAssembly and checked for the
 * nodes and edge labels it must hold, Mermaid and JSON; failed resolutions drawn with their
 * conflicts and missing providers; hostile names stay inside their quotes; `rumpkg graph`.
 */
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import parseDot, { type Attr, type EdgeStmt, type Graph, type NodeStmt, type Stmt, type Subgraph } from 'dotparser';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  planClosureGraph,
  planFailureGraph,
  planProjectGraphs,
  quoteDot,
  quoteMermaid,
  renderDot,
  renderGraphSvg,
  renderMermaid,
  svgForHtml,
  type DependencyGraph,
  type GraphDocument,
} from '../../packager/index.js';
import { createMemoryProvider, registryOf, solve, type Failure } from '../../resolver/index.js';
import { runCli } from '../helpers/cli.js';
import { demoWorld, releaseDemoWorld, type DemoWorld } from '../helpers/demo.js';

let world: DemoWorld;
let graphs: DependencyGraph[];
beforeAll(async () => {
  world = await demoWorld();
  graphs = ['hw-riscv64', 'hw-x86_64'].map((t) => planClosureGraph(world.lock.targets[t]!, { target: t, project: 'hello-virtio', requested: world.lock.requested }));
}, 900_000);

const ids = (g: DependencyGraph): string[] => g.nodes.map((n) => n.id);
const edge = (g: DependencyGraph, from: string, to: string) => g.edges.filter((e) => e.from === from && e.to === to);

/** Attributes of a dotparser attr_list as a plain record. */
function attrs(list: Attr[]): Record<string, string> {
  return Object.fromEntries(list.map((a) => [String(a.id), typeof a.eq === 'string' ? a.eq : String(a.eq.value)]));
}

/** Every node and edge statement of a parsed digraph, with the cluster each sits in. */
function walk(g: Graph): { nodes: Array<{ id: string; attrs: Record<string, string>; cluster: string }>; edges: Array<{ from: string; to: string; attrs: Record<string, string> }>; clusters: Record<string, string> } {
  const nodes: Array<{ id: string; attrs: Record<string, string>; cluster: string }> = [];
  const edges: Array<{ from: string; to: string; attrs: Record<string, string> }> = [];
  const clusters: Record<string, string> = {};
  const visit = (stmts: Stmt[], cluster: string): void => {
    for (const s of stmts) {
      if (s.type === 'node_stmt') nodes.push({ id: String((s as NodeStmt).node_id.id), attrs: attrs(s.attr_list), cluster });
      else if (s.type === 'edge_stmt') {
        const [a, b] = (s as EdgeStmt).edge_list as Array<{ id: string }>;
        edges.push({ from: String(a!.id), to: String(b!.id), attrs: attrs(s.attr_list) });
      } else if (s.type === 'subgraph') {
        const sg = s as Subgraph;
        const label = sg.children.find((c) => c.type === 'attr_stmt' && c.target === 'graph') as { attr_list: Attr[] } | undefined;
        clusters[String(sg.id)] = attrs(label?.attr_list ?? []).label ?? '';
        visit(sg.children, String(sg.id));
      }
    }
  };
  visit(g.children, '');
  return { nodes, edges, clusters };
}

describe('the graph of a locked closure (the demo project)', () => {
  it('x86_64 pulls pci through virtio-pci, riscv64 virtio-mmio; capability edges name the capability', () => {
    const [riscv, x86] = graphs as [DependencyGraph, DependencyGraph];
    expect(ids(x86)).toEqual(expect.arrayContaining(['<project>', '@rump/pci', '@rump/virtio-pci', '@rump/platform-hw-x86_64']));
    expect(ids(x86)).not.toContain('@rump/virtio-mmio');
    expect(ids(riscv)).toEqual(expect.arrayContaining(['@rump/virtio-mmio', '@rump/platform-hw-riscv64']));
    expect(ids(riscv)).not.toContain('@rump/pci');
    expect(edge(x86, '@rump/virtio-net', '@rump/virtio-pci')).toEqual([{ from: '@rump/virtio-net', to: '@rump/virtio-pci', kind: 'capability', label: 'bus:virtio' }]);
    expect(edge(x86, '@rump/virtio-pci', '@rump/pci')).toEqual([{ from: '@rump/virtio-pci', to: '@rump/pci', kind: 'capability', label: 'bus:pci' }]);
    expect(edge(riscv, '@rump/base', '@rump/platform-hw-riscv64')[0]).toMatchObject({ kind: 'capability', label: 'hypercall:17' });
    expect(edge(x86, '<project>', '@rump/tcpip')).toEqual([{ from: '<project>', to: '@rump/tcpip', kind: 'dependency', label: '^10.0.0' }]);
    expect(x86.nodes[0]).toMatchObject({ id: '<project>', label: 'hello-virtio', kind: 'project' });
    expect(x86.nodes.find((n) => n.id === '@rump/platform-hw-x86_64')).toMatchObject({ kind: 'platform', version: '10.1.0' });
    // net-net's optional dependencies are drawn to absent nodes, never pulled in.
    const optional = x86.edges.filter((e) => e.kind === 'optional');
    expect(optional.length).toBeGreaterThan(0);
    for (const e of optional) expect(x86.nodes.find((n) => n.id === e.to)?.kind).toBe('absent');
    // Every locked component is a node; every node but absent ones is locked or the project.
    const locked = Object.keys(world.lock.targets['hw-x86_64']!.components);
    expect(x86.nodes.filter((n) => n.kind === 'component' || n.kind === 'platform').map((n) => n.id)).toEqual(locked);
  });

  it('DOT parses (dotparser): one cluster per target, every node and edge with its style', () => {
    const dot = renderDot(graphs, { title: 'hello-virtio' });
    const parsed = parseDot(dot);
    expect(parsed).toHaveLength(1);
    expect(parsed[0]!.type).toBe('digraph');
    const { nodes, edges, clusters } = walk(parsed[0]!);
    expect(Object.values(clusters)).toEqual(['hw-riscv64: 10 components', 'hw-x86_64: 11 components']);
    for (const g of graphs) {
      const inCluster = nodes.filter((n) => n.id.startsWith(`${g.target}|`));
      expect(inCluster.map((n) => n.id.slice(g.target.length + 1)).sort()).toEqual(ids(g).sort());
      expect(edges.filter((e) => e.from.startsWith(`${g.target}|`))).toHaveLength(g.edges.length);
    }
    const cap = edges.find((e) => e.from === 'hw-x86_64|@rump/virtio-pci' && e.to === 'hw-x86_64|@rump/pci');
    expect(cap?.attrs).toMatchObject({ label: 'bus:pci', style: 'dashed' });
    const opt = edges.find((e) => e.attrs.style === 'dotted');
    expect(opt?.attrs.label).toMatch(/^optional /);
    expect(nodes.find((n) => n.id === 'hw-x86_64|@rump/platform-hw-x86_64')?.attrs).toMatchObject({ shape: 'box3d', label: '@rump/platform-hw-x86_64\\n10.1.0' });
    // Deterministic text.
    expect(renderDot(graphs, { title: 'hello-virtio' })).toBe(dot);
  });

  it('SVG (Graphviz in WebAssembly) holds every node, the capability labels and the cluster titles', async () => {
    const svg = await renderGraphSvg(graphs, { title: 'hello-virtio' });
    expect(svg).toMatch(/^<\?xml/);
    const titles = [...svg.matchAll(/<g id="node\d+" class="node">\s*<title>([^<]*)<\/title>/g)].map((m) => decodeXml(m[1]!));
    for (const g of graphs) for (const id of ids(g)) expect(titles).toContain(`${g.target}|${id}`);
    expect(titles).toHaveLength(graphs.reduce((n, g) => n + g.nodes.length, 0));
    const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => decodeXml(m[1]!));
    expect(texts).toEqual(expect.arrayContaining(['bus:pci', 'bus:virtio', 'hypercall:17', 'hw-x86_64: 11 components', 'hw-riscv64: 10 components', '@rump/virtio-mmio']));
    expect(await renderGraphSvg(graphs, { title: 'hello-virtio' })).toBe(svg);
    expect(svgForHtml(svg)).toMatch(/^<svg [^>]*>[\s\S]*<\/svg>$/);
  });

  it('Mermaid: one subgraph per target, generated ids, styled capability and optional links', () => {
    const m = renderMermaid(graphs);
    const lines = m.trimEnd().split('\n');
    expect(lines[0]).toBe('flowchart TB');
    expect(lines.filter((l) => /^ {2}subgraph g\d\[/.test(l))).toEqual(['  subgraph g0["hw-riscv64"]', '  subgraph g1["hw-x86_64"]']);
    const links = lines.filter((l) => /^ {2}g\d+n\d+ (-->|-\.->|x--x)/.test(l));
    expect(links).toHaveLength(graphs.reduce((n, g) => n + g.edges.length, 0));
    expect(links).toContain(`  g1n${ids(graphs[1]!).indexOf('@rump/virtio-pci')} -.->|"bus:pci"| g1n${ids(graphs[1]!).indexOf('@rump/pci')}`);
    const styled = lines.filter((l) => l.startsWith('  linkStyle '));
    expect(styled.length).toBe(graphs.reduce((n, g) => n + g.edges.filter((e) => e.kind !== 'dependency').length, 0));
  });
});

function decodeXml(s: string): string {
  return s.replace(/&#(\d+);/g, (_, d: string) => String.fromCharCode(Number(d))).replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

describe('the graph of a failed resolution', () => {
  async function failure(entries: Parameters<typeof registryOf>[0], deps: Record<string, string>, target = 'posix-x86_64'): Promise<Failure> {
    const provider = createMemoryProvider(registryOf(entries, { targets: ['posix-x86_64', 'hw-x86_64'] }));
    const r = await solve({ root: { name: 'app', dependencies: deps }, target }, provider);
    if (r.ok) throw new Error('expected a failure');
    return r.failure;
  }

  it('a missing bus: the requirer → the capability → its provider, which does not ship the target', async () => {
    const f = await failure(
      {
        'virtio-net 1.0.0': { requires: ['bus:virtio'] },
        'virtio-pci 1.0.0': { requires: ['bus:pci'], provides: ['bus:virtio'] },
        'pci 1.0.0': { provides: ['bus:pci'], targets: ['hw-x86_64'] },
      },
      { 'virtio-net': '^1.0.0' },
    );
    const g = planFailureGraph(f);
    expect(g.outcome).toBe('failed');
    expect(g.explanation).toContain('virtio-net');
    expect(g.nodes[0]).toMatchObject({ id: '<project>', label: 'app', kind: 'project' });
    expect(g.edges).toEqual(
      expect.arrayContaining([
        { from: '<project>', to: 'virtio-net', kind: 'dependency', label: '^1.0.0' },
        { from: 'virtio-net', to: 'cap:bus:virtio', kind: 'capability', label: 'bus:virtio' },
        { from: 'cap:bus:virtio', to: 'virtio-pci', kind: 'capability', label: 'provided by' },
        { from: 'virtio-pci', to: 'cap:bus:pci', kind: 'capability', label: 'bus:pci' },
      ]),
    );
    const failed = g.nodes.filter((n) => n.status === 'failed');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.flatMap((n) => n.notes).join('\n')).toMatch(/posix-x86_64/);
    const dot = renderDot([g]);
    const { nodes, clusters } = walk(parseDot(dot)[0]!);
    expect(Object.values(clusters)).toEqual(['posix-x86_64: resolution failed']);
    expect(nodes.find((n) => n.id === 'posix-x86_64|cap:bus:pci')?.attrs).toMatchObject({ shape: 'ellipse' });
    const red = nodes.filter((n) => n.attrs.color === '#c62828').map((n) => n.id);
    expect(red).toEqual(failed.map((n) => `posix-x86_64|${n.id}`));
  });

  it('a conflict is a red edge between the two components', async () => {
    const f = await failure({ 'a 1.0.0': { conflicts: ['b'] }, 'b 1.0.0': {} }, { a: '^1.0.0', b: '^1.0.0' });
    const g = planFailureGraph(f);
    expect(g.edges.filter((e) => e.kind === 'conflict')).toEqual([{ from: 'a', to: 'b', kind: 'conflict', label: 'conflicts with' }]);
    const { edges } = walk(parseDot(renderDot([g]))[0]!);
    expect(edges.find((e) => e.attrs.label === 'conflicts with')?.attrs).toMatchObject({ color: '#c62828', dir: 'both', arrowhead: 'tee' });
    const svg = await renderGraphSvg([g]);
    expect(svg).toContain('conflicts with');
  });
});

describe('hostile names and labels stay inside their quotes', () => {
  const evil = 'x" ]; "y" -> "z"; a [label="\\n</title><script>alert(1)</script>\n}';
  const g: DependencyGraph = {
    target: 'posix-x86_64',
    project: evil,
    outcome: 'resolved',
    nodes: [
      { id: '<project>', label: evil, kind: 'project', notes: [] },
      { id: evil, label: evil, kind: 'component', version: '1.0.0', notes: [evil] },
    ],
    edges: [{ from: '<project>', to: evil, kind: 'capability', label: evil }],
  };

  it('DOT: no statement is injected; the parser reads each string back as quoted', () => {
    expect(quoteDot('a"b\\c\nd')).toBe('"a\\"b\\\\c\\nd"');
    // DOT's own rule: inside quotes only \" is an escape (Graphviz then reads \\ and \n in labels).
    const unquote = (q: string): string => q.slice(1, -1).replace(/\\"/g, '"');
    const { nodes, edges } = walk(parseDot(renderDot([g]))[0]!);
    expect(nodes.map((n) => n.id)).toEqual(['posix-x86_64|<project>', unquote(quoteDot(`posix-x86_64|${evil}`))]);
    expect(edges).toHaveLength(1);
    expect(edges[0]!.to).toBe(nodes[1]!.id);
    expect(edges[0]!.attrs.label).toBe(unquote(quoteDot(evil)));
    expect(nodes[1]!.attrs.label).toBe(unquote(quoteDot(`${evil}\n1.0.0\n${evil}`)));
  });

  it('SVG: no markup of the names survives (Graphviz escapes text)', async () => {
    const svg = await renderGraphSvg([g]);
    expect(svg).not.toContain('<script');
    expect(svg).not.toContain('</title><script');
    expect(svg).toContain('&lt;script&gt;');
  });

  it('Mermaid: quotes, angle brackets, pipes and hashes become entity codes', () => {
    expect(quoteMermaid('a"b<c>d|e#f\ng')).toBe('"a#quot;b#lt;c#gt;d#124;e#35;f<br/>g"');
    const m = renderMermaid([g]);
    for (const line of m.split('\n')) {
      const quoted = [...line.matchAll(/"([^"]*)"/g)].map((x) => x[1]!);
      for (const q of quoted) expect(q.replaceAll('<br/>', '')).not.toMatch(/[<>|]/);
    }
    expect(m).not.toContain('<script');
  });
});

describe('rumpkg graph', () => {
  it('draws the demo project from its lockfile (json, dot, mermaid, svg to a file)', async () => {
    const json = await runCli(['graph', '--cwd', world.project, '--format', 'json']);
    expect(json.code, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as GraphDocument & { sources: Record<string, string> };
    expect(doc.graphVersion).toBe(1);
    expect(doc.sources).toEqual({ 'hw-riscv64': 'lockfile', 'hw-x86_64': 'lockfile' });
    expect(doc.graphs.map((x) => x.target)).toEqual(['hw-riscv64', 'hw-x86_64']);
    expect(doc.graphs).toEqual(graphs);

    const dot = await runCli(['graph', '--cwd', world.project, '--target', 'hw-x86_64']);
    expect(dot.code).toBe(0);
    expect(walk(parseDot(dot.stdout)[0]!).clusters).toEqual({ cluster_0: 'hw-x86_64: 11 components' });
    const mermaid = await runCli(['graph', '--cwd', world.project, '--format', 'mermaid']);
    expect(mermaid.stdout).toBe(renderMermaid(graphs));

    const out = join(world.work, 'graph-test.svg');
    const svg = await runCli(['graph', '--cwd', world.project, '--format', 'svg', '-o', out]);
    expect(svg.code, svg.stderr).toBe(0);
    expect(svg.stdout).toBe('');
    expect(await readFile(out, 'utf8')).toContain('<title>hw&#45;x86_64|@rump/pci</title>');

    const bad = await runCli(['graph', '--cwd', world.project, '--format', 'png']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('E_USAGE');
  });

  it('resolves when the lockfile does not answer rumpkg.json, and draws a failure (exit 1, picture still written)', async () => {
    const dir = join(world.work, `graph-fail-${process.pid}`);
    await cp(world.project, dir, { recursive: true });
    const m = JSON.parse(await readFile(join(dir, 'rumpkg.json'), 'utf8')) as { targets: string[] };
    m.targets = ['hw-x86_64', 'posix-x86_64'];
    await writeFile(join(dir, 'rumpkg.json'), `${JSON.stringify(m, null, 2)}\n`);
    vi.stubEnv('RUMPKG_HOME', world.env.RUMPKG_HOME!);
    try {
      const r = await planProjectGraphs(dir);
      expect(r.sources).toEqual({ 'hw-x86_64': 'lockfile', 'posix-x86_64': 'failed' });
      const failed = r.document.graphs[1]!;
      expect(failed.outcome).toBe('failed');
      expect(failed.explanation).toMatch(/virtio-net/);
      expect(failed.nodes.some((n) => n.status === 'failed')).toBe(true);
      const out = join(dir, 'fail.dot');
      const cli = await runCli(['graph', '--cwd', dir, '-o', out]);
      expect(cli.code).toBe(1);
      expect(cli.stderr).toContain('E_RESOLVE');
      expect(cli.stderr).toContain('posix-x86_64');
      const { clusters } = walk(parseDot(await readFile(out, 'utf8'))[0]!);
      expect(Object.values(clusters)).toEqual(['hw-x86_64: 11 components', 'posix-x86_64: resolution failed']);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

afterAll(async () => {
  await releaseDemoWorld();
});
