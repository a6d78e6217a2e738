/**
 * The dependency graph of one target, as data: what `rumpkg graph`, the audit's HTML report and
 * the registry's web pages draw. Pure; renderers (DOT, Mermaid, JSON, SVG) are separate files.
 *
 * Two sources, one shape:
 * - a closure (`planClosureGraph`): the lockfile's `LockedTarget` (or a fresh solution turned into
 *   one by the resolver's `buildLockedTarget`). Nodes are the project and the locked components;
 *   edges are the declared ones: hard dependencies (labelled with the range), capability edges
 *   (requirer → the component chosen to provide it, labelled with the capability: the "any
 *   provider of bus:pci" edges), and optional dependencies (recorded, never pulled in: drawn to
 *   an `absent` node when the closure lacks them).
 * - a failed resolution (`planFailureGraph`): the external facts of the resolver's derivation
 *   graph. Capabilities become nodes of their own there (`cap:bus:pci`), because the question is
 *   which providers could have served; conflicts are edges; facts about one package (no version,
 *   not for this target, no provider) are notes on its node, which is marked failed. The English
 *   explanation (`renderFailure`) travels along.
 * Everything is sorted, so the same input gives the same graph, byte for byte once rendered.
 */
import type { LockedTarget } from '../../components/index.js';
import { PROJECT, capabilityOf, externalIncompatibilities, renderFailure, renderSet, type Failure, type Incompatibility } from '../../resolver/index.js';

export const GRAPH_VERSION = 1;

export type GraphNodeKind = 'project' | 'component' | 'platform' | 'capability' | 'absent';
export type GraphEdgeKind = 'dependency' | 'capability' | 'optional' | 'conflict';

export interface GraphNode {
  /** Unique in its graph: a component name, `<project>`, or `cap:<capability>`. */
  id: string;
  /** What a person reads: the component name, the project name, the capability. */
  label: string;
  kind: GraphNodeKind;
  /** The exact version (closures). */
  version?: string;
  license?: string;
  /** `failed` (the resolution failed here) or an audit evidence value (`confirmed`, `modified`, …). */
  status?: string;
  /** Facts about the node itself ("no version of it ships hw-riscv64"). */
  notes: string[];
}

export interface GraphEdge {
  from: string;
  to: string;
  kind: GraphEdgeKind;
  /** The range (dependency, optional), the capability (capability), `conflicts with` (conflict). */
  label: string;
}

export interface DependencyGraph {
  target: string;
  project: string;
  outcome: 'resolved' | 'failed';
  /** The project first, then by id. */
  nodes: GraphNode[];
  /** By from, to, kind, label. */
  edges: GraphEdge[];
  /** Why the resolution failed, in the resolver's words (failed graphs only). */
  explanation?: string;
}

/** What `rumpkg graph --format json` prints: one graph per target. */
export interface GraphDocument {
  graphVersion: typeof GRAPH_VERSION;
  project: string;
  graphs: DependencyGraph[];
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function finish(g: Omit<DependencyGraph, 'nodes' | 'edges'>, nodes: Map<string, GraphNode>, edges: GraphEdge[]): DependencyGraph {
  const seen = new Set<string>();
  const unique = edges.filter((e) => {
    const k = `${e.from}\0${e.to}\0${e.kind}\0${e.label}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  unique.sort((a, b) => cmp(a.from, b.from) || cmp(a.to, b.to) || cmp(a.kind, b.kind) || cmp(a.label, b.label));
  const list = [...nodes.values()].map((n) => ({ ...n, notes: [...new Set(n.notes)].sort(cmp) }));
  list.sort((a, b) => (a.kind === 'project' ? -1 : b.kind === 'project' ? 1 : cmp(a.id, b.id)));
  return { ...g, nodes: list, edges: unique };
}

export interface ClosureGraphOptions {
  target: string;
  project: string;
  /** The project's requests (name → range), to label the project's edges; keys may be bare words. */
  requested?: Record<string, string>;
  /** Per component name: a status to draw (an audit's evidence). */
  status?: Record<string, string>;
}

/** The graph of one locked closure (see the module head). */
export function planClosureGraph(closure: LockedTarget, options: ClosureGraphOptions): DependencyGraph {
  const nodes = new Map<string, GraphNode>();
  const edges: GraphEdge[] = [];
  nodes.set(PROJECT, { id: PROJECT, label: options.project, kind: 'project', notes: [] });
  const names = Object.keys(closure.components).sort(cmp);
  for (const name of names) {
    const c = closure.components[name]!;
    const status = options.status?.[name];
    nodes.set(name, {
      id: name,
      label: name,
      kind: c.kind === 'platform' ? 'platform' : 'component',
      version: c.version,
      ...(c.license === '' ? {} : { license: c.license }),
      ...(status === undefined ? {} : { status }),
      notes: [],
    });
  }
  const requestedRange = (name: string): string => {
    const r = options.requested ?? {};
    const bare = name.replace(/^@[^/]+\//, '');
    return r[name] ?? r[bare] ?? '';
  };
  for (const name of names) {
    const c = closure.components[name]!;
    if (c.requiredBy.includes(PROJECT)) edges.push({ from: PROJECT, to: name, kind: 'dependency', label: requestedRange(name) });
    for (const [dep, range] of Object.entries(c.dependencies)) edges.push({ from: name, to: dep, kind: 'dependency', label: range });
    for (const [cap, provider] of Object.entries(c.requires)) edges.push({ from: name, to: provider, kind: 'capability', label: cap });
    for (const [dep, range] of Object.entries(c.optionalDependencies)) {
      if (!nodes.has(dep)) nodes.set(dep, { id: dep, label: dep, kind: 'absent', notes: ['optional: not in the closure'] });
      edges.push({ from: name, to: dep, kind: 'optional', label: `optional ${range}` });
    }
  }
  // A dependency the closure lacks (a hand-edited lockfile): drawn, and said.
  for (const e of edges) {
    if (!nodes.has(e.to)) nodes.set(e.to, { id: e.to, label: e.to, kind: 'absent', status: 'failed', notes: ['missing from the closure'] });
  }
  for (const [name, status] of Object.entries(options.status ?? {})) {
    if (!nodes.has(name)) nodes.set(name, { id: name, label: name, kind: 'component', status, notes: ['not in the locked closure'] });
  }
  return finish({ target: options.target, project: options.project, outcome: 'resolved' }, nodes, edges);
}

/** The graph of a failed resolution: its external facts (see the module head). */
export function planFailureGraph(failure: Failure): DependencyGraph {
  const nodes = new Map<string, GraphNode>();
  const edges: GraphEdge[] = [];
  const node = (name: string): GraphNode => {
    let n = nodes.get(name);
    if (n === undefined) {
      const cap = capabilityOf(name);
      n =
        name === PROJECT
          ? { id: PROJECT, label: failure.project, kind: 'project', notes: [] }
          : cap !== null
            ? { id: name, label: cap, kind: 'capability', notes: [] }
            : { id: name, label: name, kind: 'component', notes: [] };
      nodes.set(name, n);
    }
    return n;
  };
  const fail = (name: string, note: string): void => {
    const n = node(name);
    n.status = 'failed';
    n.notes.push(note);
  };
  const pos = (i: Incompatibility) => i.terms.filter((t) => t.positive);
  const neg = (i: Incompatibility) => i.terms.filter((t) => !t.positive);
  for (const i of externalIncompatibilities(failure.root)) {
    const c = i.cause;
    const p = pos(i)[0];
    const n = neg(i)[0];
    switch (c.kind) {
      case 'root':
        node(PROJECT);
        break;
      case 'dependency':
        if (p !== undefined && n !== undefined) edges.push({ from: node(p.name).id, to: node(n.name).id, kind: 'dependency', label: renderSet(n.set) });
        break;
      case 'requires':
        if (p !== undefined) edges.push({ from: node(p.name).id, to: node(`cap:${c.capability}`).id, kind: 'capability', label: c.capability });
        break;
      case 'provider':
        edges.push({ from: node(`cap:${c.capability}`).id, to: node(c.provider).id, kind: 'capability', label: n === undefined || renderSet(n.set) === 'any' ? 'provided by' : `provided by ${renderSet(n.set)}` });
        break;
      case 'conflict': {
        const [a, b] = i.terms;
        if (a !== undefined) {
          edges.push({ from: node(a.name).id, to: node(b?.name ?? c.with).id, kind: 'conflict', label: 'conflicts with' });
          fail(a.name, `conflicts with ${c.with}`);
        }
        break;
      }
      case 'emptyRange':
        if (p !== undefined) edges.push({ from: node(p.name).id, to: node(c.dependency).id, kind: 'dependency', label: c.range });
        fail(c.dependency, `no version can match ${c.range}`);
        break;
      case 'noVersions': {
        const t = i.terms[0];
        if (t === undefined) break;
        const why = [
          c.otherTargets.length > 0 ? `only for ${c.otherTargets.join(', ')}` : '',
          c.yanked.length > 0 ? `yanked: ${c.yanked.join(', ')}` : '',
          c.prerelease.length > 0 ? `prereleases: ${c.prerelease.join(', ')}` : '',
        ].filter((s) => s !== '');
        fail(t.name, `no version matches ${renderSet(t.set)}${why.length > 0 ? ` (${why.join('; ')})` : ''}`);
        break;
      }
      case 'target': {
        const t = i.terms[0];
        if (t !== undefined) fail(t.name, `${renderSet(t.set)} does not ship ${c.target}`);
        break;
      }
      case 'unknown': {
        const t = i.terms[0];
        if (t !== undefined) fail(t.name, 'unknown to the registries');
        break;
      }
      case 'noProvider':
        fail(`cap:${c.capability}`, `no component for ${c.target} provides it${c.elsewhere.length > 0 ? ` (${c.elsewhere.join(', ')} do for other targets)` : ''}`);
        break;
      case 'derived':
        break;
    }
  }
  node(PROJECT);
  return finish({ target: failure.target, project: failure.project, outcome: 'failed', explanation: renderFailure(failure) }, nodes, edges);
}
