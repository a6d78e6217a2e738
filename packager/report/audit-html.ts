/**
 * `rumpkg audit IMAGE --html FILE`: one self-contained HTML page (no script, no network, no
 * external asset: styles and SVG are inline) with what the audit found — the components with
 * their evidence, versions, licences, upstream and advisories; a treemap of the image's bytes by
 * component (from `rumpkg size`'s report, i.e. the linker map); and the dependency graph of the
 * image, coloured by evidence (from the project's lockfile when there is one).
 * Deterministic: the same image (and lockfile, advisories) gives the same bytes — no clock, no
 * absolute paths (the image is named by its file name and sha256), sorted everything. Every value
 * goes through the one escape (`html` from registry/web).
 */
import { basename } from 'node:path';
import type { Lockfile } from '../../components/index.js';
import { html, trustedHtml, type Html } from '../../registry/index.js';
import type { AuditComponent, AuditReport, SizeReport } from '../audit/index.js';
import { GRAPH_LEGEND } from './dot.js';
import { planClosureGraph, type DependencyGraph } from './graph.js';
import { renderGraphSvg, svgForHtml } from './svg.js';
import { formatBytes, planTreemap, renderTreemapSvg, type TreemapCell } from './treemap.js';

export interface AuditHtmlInput {
  report: AuditReport;
  /** The size report, or why there is none (no linker map next to the image). */
  size?: SizeReport;
  sizeNote?: string;
  treemap?: readonly TreemapCell[];
  /** Inline SVG of the dependency graph (Graphviz output). */
  graphSvg?: string;
  graphNote?: string;
}

const STYLE = `
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1d1d1f; background: #f6f7f9; }
header { background: #16325c; color: #fff; padding: 16px 28px; }
header h1 { margin: 0; font-size: 22px; overflow-wrap: anywhere; }
header p { margin: 4px 0 0; color: #c9d6ee; overflow-wrap: anywhere; }
main { max-width: 1200px; margin: 0 auto; padding: 18px 28px 60px; }
h2 { font-size: 18px; margin: 28px 0 10px; border-bottom: 1px solid #dadce0; padding-bottom: 4px; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid #dadce0; }
th, td { text-align: left; padding: 6px 9px; border-bottom: 1px solid #dadce0; vertical-align: top; }
th { background: #eef1f6; font-size: 12.5px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 12.5px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, monospace; overflow-wrap: anywhere; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 10px; }
.card { background: #fff; border: 1px solid #dadce0; padding: 10px 12px; }
.card b { display: block; font-size: 22px; }
.card span { color: #5f6368; font-size: 12.5px; }
.chip { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.ev-confirmed, .ev-locked { background: #e3f3e6; color: #1e6b2a; }
.ev-unverified { background: #fff1d6; color: #8a5a00; }
.ev-modified, .ev-claimed-but-absent, .ev-present-but-unclaimed, .sev-high, .sev-critical { background: #fde7e7; color: #b71c1c; }
.sev-low, .sev-moderate, .sev-unknown { background: #fff1d6; color: #8a5a00; }
.ok { color: #1e6b2a; }
.bad { color: #b71c1c; }
.muted { color: #5f6368; }
.panel { background: #fff; border: 1px solid #dadce0; padding: 10px; overflow-x: auto; }
.panel svg { max-width: 100%; height: auto; }
ul.legend { list-style: none; padding: 0; margin: 8px 0 0; display: flex; flex-wrap: wrap; gap: 4px 16px; color: #5f6368; font-size: 12.5px; }
.sw { display: inline-block; width: 11px; height: 11px; margin-right: 5px; vertical-align: -1px; border: 1px solid #888; }
footer { color: #5f6368; font-size: 12px; margin-top: 30px; }
`;

const evidenceChip = (e: string): Html => html`<span class="${`chip ev-${e}`}">${e}</span>`;

function upstreamText(c: AuditComponent): Html {
  if (c.upstream === null) return html`<span class="muted">—</span>`;
  const u = c.upstream;
  return html`${u.project} <code>${u.repository}</code> <code>${u.ref ?? 'unknown ref'}</code>${u.commit === undefined ? '' : html` <code>${u.commit.slice(0, 12)}</code>`}<br><code>${u.path}</code>`;
}

function symbolsText(c: AuditComponent): string {
  if (!c.symbols.checked) return c.symbols.found > 0 ? `${c.symbols.found} found` : '—';
  return `${c.symbols.found} of ${c.symbols.expected ?? '?'}`;
}

/** The page (see the module head). Pure. */
export function renderAuditHtml(input: AuditHtmlInput): string {
  const r = input.report;
  const title = r.image === null ? `Audit of the lockfile${r.project === null ? '' : ` of ${r.project}`}` : `Audit of ${basename(r.image.path)}`;
  const findings = r.components.filter((c) => ['modified', 'claimed-but-absent', 'present-but-unclaimed'].includes(c.evidence));
  const counts = new Map<string, number>();
  for (const c of r.components) counts.set(c.evidence, (counts.get(c.evidence) ?? 0) + 1);
  const sub = [
    r.target === null ? 'target unknown' : `target ${r.target}`,
    r.project === null ? '' : `project ${r.project}`,
    r.image === null ? '' : `${r.image.machine} ELF${r.image.class}, ${r.image.bytes} bytes`,
    r.image === null ? '' : r.image.sha256,
    r.manifest === 'missing' ? 'no embedded manifest' : r.manifest === 'embedded' ? 'manifest embedded' : '',
    r.tool === null ? '' : `built by ${r.tool}`,
  ].filter((s) => s !== '');

  const components = html`<table id="components">
<thead><tr><th>Component</th><th>Version</th><th>Licence</th><th>Upstream</th><th>Evidence</th><th class="num">Symbols</th><th>Link set</th><th>Advisories</th></tr></thead>
<tbody>
${r.components.map((c) => {
  const adv = r.advisories.filter((a) => a.component === c.name);
  return html`<tr data-component="${c.name}"><td><b>${c.name}</b><br><span class="muted">${c.lib}${c.kind === 'platform' ? ' · platform' : ''}</span></td>
<td>${c.version ?? c.candidates.join(' | ')}</td>
<td>${c.license === '' ? html`<span class="muted">unknown</span>` : c.license}</td>
<td>${upstreamText(c)}</td>
<td>${evidenceChip(c.evidence)}${c.reasons.map((why) => html`<br><span class="muted">${why}</span>`)}</td>
<td class="num">${symbolsText(c)}</td>
<td>${c.linkSet.found.length === 0 && c.linkSet.expected.length === 0 ? html`<span class="muted">—</span>` : html`<code>${c.linkSet.found.join(' ') || '—'}</code>`}</td>
<td>${adv.length === 0 ? html`<span class="muted">none</span>` : adv.map((a) => html`<span class="${`chip sev-${a.severity}`}">${a.severity}</span> ${a.id}<br>`)}</td></tr>`;
})}
</tbody>
</table>`;

  const licences = html`<table id="licences"><thead><tr><th>Licence</th><th class="num">Components</th><th>Notice</th></tr></thead><tbody>
${r.licenses.summary.map((s) => html`<tr><td>${s.license}</td><td class="num" title="${s.components.join(', ')}">${s.components.length}</td><td>${s.notice ?? ''}</td></tr>`)}
</tbody></table>
${r.licenses.findings.map((f) => html`<p class="bad">Denied: ${f.message}</p>`)}`;

  const advisories =
    r.advisories.length === 0
      ? html`<p class="ok" id="advisories">No advisory matched.</p>`
      : html`<table id="advisories"><thead><tr><th>Severity</th><th>Advisory</th><th>Component</th><th>Fixed in</th><th>Summary</th></tr></thead><tbody>
${r.advisories.map((a) => html`<tr><td><span class="${`chip sev-${a.severity}`}">${a.severity}</span></td><td>${a.id}${a.aliases.length === 0 ? '' : html`<br><span class="muted">${a.aliases.join(', ')}</span>`}</td><td>${a.component}@${a.version}</td><td>${a.fixed ?? html`<span class="bad">no fix</span>`}</td><td>${a.summary}</td></tr>`)}
</tbody></table>`;

  const size = input.size;
  const sizeSection =
    size === undefined
      ? html`<p class="muted">${input.sizeNote ?? 'No size report.'}</p>`
      : html`<p>${formatBytes(size.allocBytes)} allocated (${size.allocBytes} bytes), ${formatBytes(size.fileBytes)} on disk. Each box is an owner; inside it, darker is text, lighter data, lightest bss.</p>
<div class="panel">${input.treemap === undefined || input.treemap.length === 0 ? html`<p class="muted">Nothing allocated.</p>` : renderTreemapSvg(input.treemap)}</div>
<ul class="legend"><li><span class="sw" style="background:#3b6fc4"></span>component</li><li><span class="sw" style="background:#b8860b"></span>platform</li><li><span class="sw" style="background:#2e8b57"></span>glue</li><li><span class="sw" style="background:#8e44ad"></span>application</li><li><span class="sw" style="background:#616161"></span>runtime (crt, libc)</li><li><span class="sw" style="background:#e0e0e0"></span>unattributed</li></ul>
<table id="sizes"><thead><tr><th>Owner</th><th>Kind</th><th class="num">text</th><th class="num">data</th><th class="num">bss</th><th class="num">total</th><th class="num">share</th></tr></thead><tbody>
${size.rows.map((x) => html`<tr><td>${x.owner}</td><td>${x.kind}</td><td class="num">${x.text}</td><td class="num">${x.data}</td><td class="num">${x.bss}</td><td class="num">${x.total}</td><td class="num">${size.allocBytes === 0 ? '—' : `${((100 * x.total) / size.allocBytes).toFixed(1)}%`}</td></tr>`)}
<tr><td>(unattributed)</td><td></td><td></td><td></td><td></td><td class="num">${size.unattributed}</td><td class="num">${size.allocBytes === 0 ? '—' : `${((100 * size.unattributed) / size.allocBytes).toFixed(1)}%`}</td></tr>
</tbody></table>`;

  const graph = html`${input.graphNote === undefined ? '' : html`<p class="muted">${input.graphNote}</p>`}${input.graphSvg === undefined ? '' : html`<div class="panel" id="graph">${trustedHtml(input.graphSvg)}</div><p class="muted">${GRAPH_LEGEND}. Node borders: green confirmed by the bytes, red not as claimed, amber unverified.</p>`}`;

  const body = html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${title}</title>
<style>${trustedHtml(STYLE)}</style>
</head>
<body>
<header><h1>${title}</h1><p>${sub.join(' · ')}</p></header>
<main>
<div class="cards">
<div class="card"><b>${r.components.length}</b><span>components</span></div>
<div class="card"><b class="${findings.length === 0 ? 'ok' : 'bad'}">${findings.length}</b><span>not as claimed</span></div>
<div class="card"><b>${counts.get('confirmed') ?? 0}</b><span>confirmed by the bytes</span></div>
<div class="card"><b>${r.licenses.summary.length}</b><span>licences</span></div>
<div class="card"><b class="${r.advisories.length === 0 ? 'ok' : 'bad'}">${r.advisories.length}</b><span>advisories matched</span></div>
${size === undefined ? '' : html`<div class="card"><b>${formatBytes(size.allocBytes)}</b><span>allocated</span></div>`}
</div>
<h2>Components</h2>
${components}
${r.notes.length === 0 ? '' : html`<ul>${r.notes.map((n) => html`<li class="muted">${n}</li>`)}</ul>`}
${r.unattributedLinkSet.length === 0 ? '' : html`<p class="bad">${r.unattributedLinkSet.length} link-set entr${r.unattributedLinkSet.length === 1 ? 'y' : 'ies'} no known component accounts for: ${r.unattributedLinkSet.map((e) => e.rcName ?? e.level ?? '?').join(', ')}</p>`}
<h2>Licences</h2>
${licences}
<h2>Advisories</h2>
${advisories}
<h2>Size by component</h2>
${sizeSection}
<h2>Dependency graph</h2>
${graph}
<footer>Made by rumpkg audit from the image's bytes; this file loads nothing from anywhere.</footer>
</main>
</body>
</html>
`;
  return body.markup;
}

export interface AuditHtmlOptions {
  size?: SizeReport;
  /** Why there is no size report. */
  sizeNote?: string;
  /** The project's lockfile: the graph's edges (the image's manifest has none). */
  lockfile?: Lockfile;
}

/** The graph of the audited closure, each component's node coloured by its evidence. */
export function planAuditGraph(report: AuditReport, lockfile: Lockfile | undefined): { graph?: DependencyGraph; note?: string } {
  const target = report.target;
  const closure = target === null ? undefined : lockfile?.targets[target];
  if (target === null || closure === undefined) {
    return { note: `No graph: ${target === null ? 'the image does not say its target' : `no rumpkg.lock with a closure for ${target} was given`} (the image carries components, not their edges; run the audit in the project).` };
  }
  const status = Object.fromEntries(report.components.map((c) => [c.name, c.evidence]));
  return {
    graph: planClosureGraph(closure, { target, project: report.project ?? 'project', requested: lockfile?.requested ?? {}, status }),
    note: `The closure of ${target} in rumpkg.lock; each component's border says what the audit found in the bytes.`,
  };
}

/** Lays out the treemap and the graph (Graphviz in WebAssembly) and renders the page. */
export async function planAuditHtml(report: AuditReport, options: AuditHtmlOptions = {}): Promise<string> {
  const treemap = options.size === undefined ? undefined : await planTreemap(options.size);
  const { graph, note } = planAuditGraph(report, options.lockfile);
  const graphSvg = graph === undefined ? undefined : svgForHtml(await renderGraphSvg([graph], { title: report.project ?? 'image', legend: false }));
  return renderAuditHtml({
    report,
    ...(options.size === undefined ? {} : { size: options.size }),
    ...(options.sizeNote === undefined ? {} : { sizeNote: options.sizeNote }),
    ...(treemap === undefined ? {} : { treemap }),
    ...(graphSvg === undefined ? {} : { graphSvg }),
    ...(note === undefined ? {} : { graphNote: note }),
  });
}
