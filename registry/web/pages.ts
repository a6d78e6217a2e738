/**
 * The registry's web pages as pure functions of registry data: the component list (with search),
 * one page per component, an error page. Every value from a packument goes through `html`
 * (escaped); the only markup inserted as it is: this file's own, and the SVG of the dependency
 * graphs, which rumpkg drew with Graphviz (registry/web/handler.ts gets it from its `renderGraph`
 * option). No external assets: styles and the one small script are inline, and the page's
 * Content-Security-Policy (`pageCsp()`) allows exactly that script, by hash.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_SCOPE } from '../../components/index.js';
import { renderFailure } from '../../resolver/index.js';
import { YANK_PREFIX, isYanked, type Packument, type PackumentVersion } from '../storage/index.js';
import { latestVersion, sortedVersions, targetsOf, type ComponentSummary, type TargetClosure } from './catalog.js';
import { html, trustedHtml, type Html } from './html.js';

/** The pages' only script: live filtering of the list; copying the `rumpkg add` line. */
export const PAGE_SCRIPT = `(() => {
  const q = document.getElementById('q');
  if (q) {
    const rows = [...document.querySelectorAll('tr[data-search]')];
    const count = document.getElementById('count');
    const filter = () => {
      const terms = q.value.toLowerCase().split(/\\s+/).filter(Boolean);
      let shown = 0;
      for (const r of rows) {
        const ok = terms.every((t) => r.dataset.search.includes(t));
        r.hidden = !ok;
        if (ok) shown++;
      }
      count.textContent = shown + ' of ' + rows.length + ' components';
    };
    q.addEventListener('input', filter);
    filter();
  }
  for (const b of document.querySelectorAll('button[data-copy]')) {
    b.addEventListener('click', () => {
      const el = document.getElementById(b.dataset.copy);
      const select = () => {
        const range = document.createRange();
        range.selectNodeContents(el);
        getSelection().removeAllRanges();
        getSelection().addRange(range);
      };
      if (navigator.clipboard) navigator.clipboard.writeText(el.textContent).then(() => { b.textContent = 'Copied'; }, select);
      else select();
    });
  }
})();`;

let csp: string | undefined;

/**
 * The Content-Security-Policy of every page: inline styles, this one script, nothing fetched.
 * Computed on first use: hashing at module load would load node:crypto for every command.
 */
export function pageCsp(): string {
  csp ??= [
    "default-src 'none'",
    "style-src 'unsafe-inline'",
    `script-src 'sha256-${createHash('sha256').update(PAGE_SCRIPT).digest('base64')}'`,
    "img-src 'self' data:",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return csp;
}

const STYLE = `
:root { color-scheme: light; --ink: #1d1d1f; --muted: #5f6368; --line: #dadce0; --accent: #1f4e9c; --bad: #c62828; --warn: #9a6b00; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: #f6f7f9; }
header.top { background: #16325c; color: #fff; padding: 14px 28px; display: flex; align-items: baseline; gap: 18px; }
header.top a { color: #fff; text-decoration: none; font-weight: 700; font-size: 19px; }
header.top span { color: #c9d6ee; }
main { max-width: 1180px; margin: 0 auto; padding: 22px 28px 60px; }
h1 { font-size: 26px; margin: 6px 0 4px; word-break: break-all; }
h2 { font-size: 19px; margin: 28px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 16px; margin: 18px 0 6px; }
a { color: var(--accent); }
code, pre { font: 13px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
td code { word-break: break-all; font-size: 12px; }
pre { background: #fff; border: 1px solid var(--line); padding: 10px 12px; overflow-x: auto; white-space: pre-wrap; word-break: break-word; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef1f6; font-weight: 600; font-size: 13px; }
td.desc { color: var(--muted); max-width: 460px; overflow-wrap: anywhere; }
.chip { display: inline-block; padding: 1px 7px; margin: 1px 3px 1px 0; border-radius: 10px; background: #e8eefc; color: #1f3f7a; font-size: 12px; white-space: nowrap; }
.chip.platform { background: #fff1cc; color: #6b4b00; }
.chip.yanked { background: #fde7e7; color: var(--bad); font-weight: 600; }
.chip.deprecated { background: #fff4e0; color: var(--warn); }
tr.yanked td.v { text-decoration: line-through; color: var(--muted); }
form.search { display: flex; gap: 8px; margin: 8px 0 6px; }
form.search input { flex: 1; font-size: 16px; padding: 8px 11px; border: 1px solid #b8bec9; border-radius: 6px; }
form.search button, .install button { font-size: 14px; padding: 7px 14px; border: 1px solid #16325c; background: #16325c; color: #fff; border-radius: 6px; cursor: pointer; }
#count { color: var(--muted); margin: 4px 0 10px; }
.lead { color: var(--muted); margin: 2px 0 14px; overflow-wrap: anywhere; }
.install { display: flex; align-items: center; gap: 10px; background: #fff; border: 1px solid var(--line); padding: 8px 12px; margin: 12px 0; max-width: 640px; }
.install code { flex: 1; font-size: 15px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 6px 18px; background: #fff; border: 1px solid var(--line); padding: 12px 16px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.cols { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 14px; }
.box { background: #fff; border: 1px solid var(--line); padding: 10px 14px; }
.box h3 { margin-top: 0; }
.box ul { margin: 0; padding-left: 18px; }
.graph { background: #fff; border: 1px solid var(--line); padding: 10px; overflow-x: auto; }
.graph svg { max-width: 100%; height: auto; }
.failed { border-color: var(--bad); }
.muted { color: var(--muted); }
ul.legend { list-style: none; padding: 0; margin: 6px 0 0; display: flex; flex-wrap: wrap; gap: 6px 18px; color: var(--muted); font-size: 13px; }
`;

function page(title: string, body: Html): string {
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${trustedHtml(STYLE)}</style>
</head>
<body>
<header class="top"><a href="/">rumpkg registry</a><span>rump kernel components</span></header>
<main>
${body}
</main>
<script>${trustedHtml(PAGE_SCRIPT)}</script>
</body>
</html>
`.markup;
}

/** The path of a component's page (names are validated registry names: safe in a path). */
export function componentHref(name: string): string {
  return `/-/web/component/${name.split('/').map(encodeURIComponent).join('/')}`;
}

/** The `rumpkg add` word for a name: bare in the default scope, scoped otherwise. */
export function addWord(name: string): string {
  return name.startsWith(`${DEFAULT_SCOPE}/`) ? name.slice(DEFAULT_SCOPE.length + 1) : name;
}

/** The lower-case text the search matches against (the script and `matchesSearch` agree). */
export function searchText(s: ComponentSummary): string {
  return [s.name, s.lib, ...s.aliases, ...s.keywords, s.description, s.license, ...s.targets].join(' ').toLowerCase();
}

/** Every whitespace-separated term of `query` occurs in the summary's search text. */
export function matchesSearch(s: ComponentSummary, query: string): boolean {
  const text = searchText(s);
  return query
    .toLowerCase()
    .split(/\s+/)
    .filter((t) => t !== '')
    .every((t) => text.includes(t));
}

const targetChips = (targets: readonly string[]): Html => html`${targets.map((t) => html`<span class="chip">${t}</span>`)}`;

/** The list of components (`GET /`); rows not matching `query` are hidden, not left out. */
export function renderIndexPage(summaries: readonly ComponentSummary[], options: { query?: string } = {}): string {
  const query = options.query ?? '';
  const shown = summaries.filter((s) => matchesSearch(s, query)).length;
  const rows = summaries.map(
    (s) => html`<tr data-search="${searchText(s)}"${matchesSearch(s, query) ? '' : trustedHtml(' hidden')}>
<td><a href="${componentHref(s.name)}">${s.name}</a>${s.kind === 'platform' ? html` <span class="chip platform">platform</span>` : ''}${s.yanked ? html` <span class="chip yanked">yanked</span>` : ''}</td>
<td>${s.latest}</td>
<td class="desc">${s.description}</td>
<td>${s.license}</td>
<td>${targetChips(s.targets)}</td>
</tr>`,
  );
  const body = html`<h1>Components</h1>
<p class="lead">${summaries.length} component${summaries.length === 1 ? '' : 's'} in this registry. Search by name, library, alias, keyword, description, licence or target.</p>
<form class="search" method="get" action="/" role="search"><input id="q" name="q" type="search" value="${query}" placeholder="e.g. virtio, tcpip, hw-riscv64, BSD-2-Clause" aria-label="Search components" autocomplete="off"><button type="submit">Search</button></form>
<p id="count">${shown} of ${summaries.length} components</p>
<table id="components">
<thead><tr><th>Component</th><th>Latest</th><th>Description</th><th>Licence</th><th>Targets</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`;
  return page('rumpkg registry', body);
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const record = (v: unknown): Record<string, string> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string')) : {};
const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/** One target's closure as the component page shows it; `svg` is Graphviz output (trusted). */
export interface ClosureView extends TargetClosure {
  svg?: string;
  /** Why the closure could not be computed or drawn. */
  error?: string;
}

export interface ComponentPageData {
  packument: Packument;
  closures: readonly ClosureView[];
  /** Names this registry holds (dependencies among them become links). */
  known: ReadonlySet<string>;
}

const LEGEND = html`<ul class="legend"><li>solid arrow: dependency (range)</li><li>dashed blue: capability (any provider)</li><li>dotted grey: optional (not pulled in)</li><li>red: conflict or failure</li><li>amber 3-D box: platform package</li></ul>`;

function nameLink(name: string, known: ReadonlySet<string>): Html {
  return known.has(name) ? html`<a href="${componentHref(name)}">${name}</a>` : html`${name}`;
}

function list(items: Html[], empty: string): Html {
  return items.length === 0 ? html`<p class="muted">${empty}</p>` : html`<ul>${items.map((i) => html`<li>${i}</li>`)}</ul>`;
}

function closureSection(c: ClosureView, known: ReadonlySet<string>): Html {
  const heading = html`<h3 id="${`target-${c.target}`}">${c.target} <span class="muted">— ${c.version}</span></h3>`;
  if (c.error !== undefined) return html`${heading}<pre class="failed">${c.error}</pre>`;
  const graph = c.svg === undefined ? '' : html`<div class="graph${c.resolution.ok ? '' : ' failed'}">${trustedHtml(c.svg)}</div>`;
  if (!c.resolution.ok) {
    return html`${heading}<p><span class="chip yanked">cannot resolve</span> on ${c.target}:</p><pre class="failed">${renderFailure(c.resolution.failure)}</pre>${graph}`;
  }
  const comps = Object.values(c.resolution.solution.components).sort((a, b) => (a.name < b.name ? -1 : 1));
  return html`${heading}${graph}
<p class="muted">Closure (${comps.length}): ${comps.map((x, i) => html`${i > 0 ? ', ' : ''}${nameLink(x.name, known)} ${x.version}`)}</p>`;
}

/** One component's page (`GET /-/web/component/<name>`). */
export function renderComponentPage(data: ComponentPageData): string {
  const p = data.packument;
  const latest = latestVersion(p) ?? '';
  const v: PackumentVersion | undefined = p.versions[latest];
  const rump = (v?.rump ?? {}) as Record<string, unknown>;
  const upstream = record(rump.upstream);
  const files = rump.upstream !== null && typeof rump.upstream === 'object' ? Object.keys(record((rump.upstream as Record<string, unknown>).files)).length : 0;
  const deps = record(v?.dependencies);
  const optional = record(rump.optionalDependencies);
  const versions = sortedVersions(p).reverse();
  const kind = rump.kind === 'platform' ? 'platform' : 'component';
  const fact = (label: string, value: Html | string): Html => html`<dt>${label}</dt><dd>${value === '' ? html`<span class="muted">—</span>` : value}</dd>`;
  const body = html`<p><a href="/">← all components</a></p>
<h1>${p.name} <span class="muted">${latest}</span>${kind === 'platform' ? html` <span class="chip platform">platform</span>` : ''}${isYanked(v) ? html` <span class="chip yanked">yanked</span>` : ''}</h1>
<p class="lead">${text(v?.description) || text(p.description)}</p>
<div class="install"><code id="add-line">rumpkg add ${addWord(p.name)}</code><button type="button" data-copy="add-line">Copy</button></div>
<dl class="facts">
${fact('Licence', text(v?.license))}
${fact('Library', text(rump.lib))}
${fact('Aliases', strings(rump.aliases).join(', '))}
${fact('Targets', targetChips(targetsOf(v)))}
${fact('Integrity', v === undefined ? '' : html`<code>${text(v.dist?.integrity)}</code>`)}
${fact('Upstream', upstream.repository === undefined ? '' : html`${upstream.project ?? ''} <code>${upstream.repository}</code> at <code>${upstream.ref ?? ''}</code>${upstream.commit === undefined ? '' : html` (commit <code>${upstream.commit}</code>)`}, <code>${upstream.path ?? ''}</code>${files > 0 ? html`, ${files} file hash${files === 1 ? '' : 'es'} recorded` : ''}`)}
${fact('Maintainers', (p.maintainers ?? []).map((m) => m.name).join(', '))}
${fact('Published', text(p.time[latest]))}
</dl>
<h2>Dependencies and capabilities of ${latest}</h2>
<div class="cols">
<div class="box"><h3>Dependencies</h3>${list(Object.entries(deps).sort().map(([n, r]) => html`${nameLink(n, data.known)} <code>${r}</code>`), 'none')}</div>
<div class="box"><h3>Requires capabilities</h3>${list(strings(rump.requires).map((c) => html`<code>${c}</code>`), 'none')}</div>
<div class="box"><h3>Provides capabilities</h3>${list(strings(rump.provides).map((c) => html`<code>${c}</code>`), 'none')}</div>
<div class="box"><h3>Optional</h3>${list(Object.entries(optional).sort().map(([n, r]) => html`${nameLink(n, data.known)} <code>${r}</code>`), 'none')}</div>
<div class="box"><h3>Conflicts with</h3>${list(strings(rump.conflicts).map((n) => nameLink(n, data.known)), 'none')}</div>
<div class="box"><h3>Init levels</h3>${list(strings(rump.initLevels).map((l) => html`<code>${l}</code>`), 'none')}</div>
</div>
<h2>Dependency graph of the latest version per target</h2>
${data.closures.length === 0 ? html`<p class="muted">No version ships any target.</p>` : html`${LEGEND}${data.closures.map((c) => closureSection(c, data.known))}`}
<h2>Versions</h2>
<table id="versions">
<thead><tr><th>Version</th><th>Published</th><th>Targets</th><th>Integrity</th><th>Status</th></tr></thead>
<tbody>
${versions.map((ver) => {
  const doc = p.versions[ver];
  const yanked = isYanked(doc);
  const dep = text(doc?.deprecated);
  const status = yanked
    ? html`<span class="chip yanked">yanked</span> ${dep.slice(YANK_PREFIX.length).trim()}`
    : dep !== ''
      ? html`<span class="chip deprecated">deprecated</span> ${dep}`
      : Object.entries(p['dist-tags']).filter(([, x]) => x === ver).map(([t]) => html`<span class="chip">${t}</span>`);
  return html`<tr${yanked ? trustedHtml(' class="yanked"') : ''}><td class="v">${ver}</td><td>${text(p.time[ver])}</td><td>${targetChips(targetsOf(doc))}</td><td><code>${text(doc?.dist?.integrity)}</code></td><td>${status}</td></tr>`;
})}
</tbody>
</table>`;
  return page(`${p.name} — rumpkg registry`, body);
}

/** A page for a failed web request (404 and friends). */
export function renderErrorPage(status: number, message: string): string {
  return page(`${status} — rumpkg registry`, html`<h1>${status}</h1><p class="lead">${message}</p><p><a href="/">← all components</a></p>`);
}
