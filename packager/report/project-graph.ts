/**
 * The graphs of a project (`rumpkg graph`): per target, the locked closure when rumpkg.lock still
 * answers rumpkg.json for that target (offline, like `rumpkg tree`), else a fresh resolution
 * against the registries — never written anywhere — whose failure, if it fails, is drawn too.
 */
import { RumpkgError, type LockedTarget, type Lockfile, type Target } from '../../components/index.js';
import { buildLockedTarget, lockedVersions, lockfileSatisfies, solve, type Provider, type Resolution } from '../../resolver/index.js';
import { createRegistryProvider, openRegistryClient } from '../../registry/index.js';
import { readLock, readProject } from '../project/index.js';
import { renderGraphSvg, svgForHtml } from './svg.js';
import { GRAPH_VERSION, planClosureGraph, planFailureGraph, type DependencyGraph, type GraphDocument } from './graph.js';

/** Where each target's graph came from. */
export type GraphSource = 'lockfile' | 'resolved' | 'failed';

export interface ProjectGraphs {
  document: GraphDocument;
  sources: Record<Target, GraphSource>;
}

export interface ProjectGraphOptions {
  target?: Target;
  offline?: boolean;
  env?: NodeJS.ProcessEnv;
  reporter?: { info?(message: string): void; warn?(message: string): void };
}

/** The graph of a solve of `root` on `target` (resolved → its closure; failed → the failure). */
export function planResolutionGraph(resolution: Resolution, options: { project: string; target: Target; requested?: Record<string, string> }): DependencyGraph {
  if (!resolution.ok) return planFailureGraph(resolution.failure);
  return planClosureGraph(buildLockedTarget(resolution.solution), options);
}

/**
 * The inline SVG of one resolution's graph: what the registry's web pages show per target
 * (`rumpkg registry serve` hands it to the server as `web.renderGraph`).
 */
export async function renderResolutionSvg(input: { project: string; target: Target; resolution: Resolution }): Promise<string> {
  const graph = planResolutionGraph(input.resolution, { project: input.project, target: input.target });
  return svgForHtml(await renderGraphSvg([graph], { title: `${input.project} on ${input.target}`, legend: false }));
}

function lockAnswers(lock: Lockfile | undefined, target: Target, components: Record<string, string>): LockedTarget | undefined {
  const closure = lock?.targets[target];
  if (lock === undefined || closure === undefined) return undefined;
  const one: Lockfile = { ...lock, targets: { [target]: closure } };
  return lockfileSatisfies(one, { components, targets: [target] }).length === 0 ? closure : undefined;
}

/** The graphs of the project in `dir` (see the module head). */
export async function planProjectGraphs(dir: string, options: ProjectGraphOptions = {}): Promise<ProjectGraphs> {
  const manifest = await readProject(dir);
  const lock = await readLock(dir);
  const targets = options.target !== undefined ? [options.target] : [...manifest.targets].sort();
  if (targets.length === 0) throw new RumpkgError('E_TARGET', 'rumpkg.json lists no targets', { hint: 'add one with rumpkg init --target T, or give --target' });
  let provider: Provider | undefined;
  const graphs: DependencyGraph[] = [];
  const sources: Record<Target, GraphSource> = {};
  for (const target of targets) {
    const closure = lockAnswers(lock, target, manifest.components);
    if (closure !== undefined) {
      graphs.push(planClosureGraph(closure, { target, project: manifest.name, requested: manifest.components }));
      sources[target] = 'lockfile';
      continue;
    }
    options.reporter?.info?.(`${target}: rumpkg.lock does not answer rumpkg.json; resolving (nothing is written)`);
    if (provider === undefined) {
      const { client } = await openRegistryClient({
        cwd: dir,
        ...(options.offline === undefined ? {} : { offline: options.offline }),
        ...(options.env === undefined ? {} : { env: options.env }),
        ...(options.reporter === undefined ? {} : { reporter: { info: (m: string) => options.reporter?.info?.(m), warn: (m: string) => options.reporter?.warn?.(m) } }),
      });
      provider = createRegistryProvider(client);
    }
    const locked = lock?.targets[target] === undefined ? undefined : lockedVersions(lock, target);
    const res = await solve({ root: { name: manifest.name, dependencies: manifest.components }, target, ...(locked === undefined ? {} : { locked }) }, provider);
    graphs.push(planResolutionGraph(res, { project: manifest.name, target, requested: manifest.components }));
    sources[target] = res.ok ? 'resolved' : 'failed';
  }
  return { document: { graphVersion: GRAPH_VERSION, project: manifest.name, graphs }, sources };
}
