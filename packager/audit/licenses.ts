/**
 * Licences of audited components: SPDX expressions parsed with spdx-expression-parse (the
 * maintained parser npm itself uses), a summary, a deny policy, and the licence notices the
 * NetBSD catalog asks for (components/catalog.ts: BSD-4-Clause and CDDL-1.0 are always carried
 * into an expression when any file of the component has them).
 *
 * Policy semantics: `--deny ID` makes a finding for a component whose expression cannot be
 * satisfied without a denied licence. `A OR B` is satisfiable when either side is; `A AND B`
 * needs both; `ID WITH EXC` is denied when `ID` or `ID WITH EXC` is denied; `ID+` (or later) is
 * denied when `ID` is. So `(BSD-3-Clause OR GPL-2.0-only)` passes `--deny GPL-2.0-only`, and
 * `BSD-2-Clause AND CDDL-1.0` (zfs) fails `--deny CDDL-1.0`.
 */
import { createRequire } from 'node:module';
import { RumpkgError } from '../../components/index.js';

/** The parse tree of spdx-expression-parse. */
type LicenseNode =
  | { license: string; plus?: boolean; exception?: string }
  | { left: LicenseNode; conjunction: 'and' | 'or'; right: LicenseNode };

let spdxParse: ((expression: string) => LicenseNode) | undefined;

/** Parses an SPDX expression; E_LICENSE naming the component when it is not one. */
export function parseLicense(expression: string, component: string): LicenseNode {
  spdxParse ??= createRequire(import.meta.url)('spdx-expression-parse') as (expression: string) => LicenseNode;
  if (typeof expression !== 'string' || expression.trim() === '' || expression.length > 1024) {
    throw new RumpkgError('E_LICENSE', `component ${component} has no usable licence expression (${JSON.stringify(expression)})`, {
      context: { component, license: expression },
      hint: 'publish the component with an SPDX licence expression in package.json "license"',
    });
  }
  try {
    return spdxParse(expression);
  } catch (e) {
    throw new RumpkgError('E_LICENSE', `component ${component} has an unparsable licence expression: ${JSON.stringify(expression)}`, {
      context: { component, license: expression },
      hint: 'use an SPDX expression such as "BSD-2-Clause AND BSD-3-Clause" (https://spdx.org/licenses/)',
      cause: e,
    });
  }
}

/** Every licence id in an expression (exceptions as `ID WITH EXC`), sorted, unique. */
export function licenseIds(node: LicenseNode): string[] {
  const out = new Set<string>();
  const walk = (n: LicenseNode): void => {
    if ('conjunction' in n) {
      walk(n.left);
      walk(n.right);
    } else out.add(`${n.license}${n.plus === true ? '+' : ''}${n.exception === undefined ? '' : ` WITH ${n.exception}`}`);
  };
  walk(node);
  return [...out].sort();
}

function leafDenied(n: { license: string; plus?: boolean; exception?: string }, denied: ReadonlySet<string>): boolean {
  if (denied.has(n.license)) return true;
  if (n.plus === true && denied.has(`${n.license}+`)) return true;
  if (n.exception !== undefined && denied.has(`${n.license} WITH ${n.exception}`)) return true;
  return false;
}

/**
 * The cheapest choice of licences that satisfies the expression without a denied one, or null
 * when every choice needs a denied licence.
 */
export function satisfyWithout(node: LicenseNode, denied: ReadonlySet<string>): string[] | null {
  if ('conjunction' in node) {
    const l = satisfyWithout(node.left, denied);
    const r = satisfyWithout(node.right, denied);
    if (node.conjunction === 'and') return l === null || r === null ? null : [...new Set([...l, ...r])].sort();
    if (l === null) return r;
    if (r === null) return l;
    return l.length <= r.length ? l : r;
  }
  return leafDenied(node, denied) ? null : licenseIds(node);
}

/** The licences that make a component fail the policy: those present on every path. */
function deniedIn(node: LicenseNode, denied: ReadonlySet<string>): string[] {
  return licenseIds(node).filter((id) => denied.has(id) || denied.has(id.replace(/\+$/, '')) || denied.has(id.split(' WITH ')[0] ?? id));
}

/** Notices the catalog carries licences for (obligations a reviewer must see). */
const LICENSE_NOTICES: Readonly<Record<string, string>> = {
  'BSD-4-Clause': 'advertising clause: materials that mention features or use of this software must carry the acknowledgement',
  'CDDL-1.0': 'file-level copyleft (CDDL-1.0, e.g. ZFS and the Solaris compatibility layer): modified CDDL files must be published under the CDDL',
  'GPL-2.0-only': 'copyleft alternative: choose the permissive side of the OR to avoid GPL obligations',
};

interface LicensedComponent {
  name: string;
  version: string | null;
  license: string;
}

interface LicenseFinding {
  component: string;
  version: string | null;
  license: string;
  /** The denied licences in its expression. */
  denied: string[];
  message: string;
}

interface LicenseSummaryRow {
  /** A licence id (`BSD-2-Clause`, `GPL-2.0-only`, `LicenseRef-…`). */
  license: string;
  /** Components whose expression mentions it. */
  components: string[];
  notice?: string;
}

export interface LicenseReport {
  summary: LicenseSummaryRow[];
  /** Components whose expression cannot be satisfied under `deny`. */
  findings: LicenseFinding[];
  deny: string[];
}

/**
 * Summary and policy check over components. Throws E_LICENSE for the first unparsable
 * expression (naming the component); E_USAGE for a denied id that is not an SPDX id.
 */
export function checkLicenses(components: readonly LicensedComponent[], options: { deny?: readonly string[] } = {}): LicenseReport {
  const deny = [...new Set(options.deny ?? [])].sort();
  for (const d of deny) {
    try {
      parseLicense(d, '--deny');
    } catch (e) {
      throw new RumpkgError('E_USAGE', `--deny ${d}: not an SPDX licence id`, { context: { deny: d }, hint: 'use ids such as GPL-2.0-only, CDDL-1.0, BSD-4-Clause', cause: e });
    }
  }
  const deniedSet = new Set(deny);
  const byId = new Map<string, Set<string>>();
  const findings: LicenseFinding[] = [];
  for (const c of components) {
    const label = c.version === null ? c.name : `${c.name}@${c.version}`;
    const node = parseLicense(c.license, label);
    for (const id of licenseIds(node)) {
      if (!byId.has(id)) byId.set(id, new Set());
      byId.get(id)!.add(c.name);
    }
    if (deniedSet.size > 0 && satisfyWithout(node, deniedSet) === null) {
      const denied = deniedIn(node, deniedSet);
      findings.push({
        component: c.name,
        version: c.version,
        license: c.license,
        denied,
        message: `${label} is licensed ${c.license}, which cannot be satisfied without ${denied.join(', ')} (denied)`,
      });
    }
  }
  const summary = [...byId.entries()]
    .map(([license, names]) => {
      const base = license.split(' WITH ')[0]!.replace(/\+$/, '');
      const notice = LICENSE_NOTICES[base];
      return { license, components: [...names].sort(), ...(notice === undefined ? {} : { notice }) };
    })
    .sort((a, b) => b.components.length - a.components.length || (a.license < b.license ? -1 : 1));
  findings.sort((a, b) => (a.component < b.component ? -1 : a.component > b.component ? 1 : 0));
  return { summary, findings, deny };
}
