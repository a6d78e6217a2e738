/**
 * Error reporting (pub doc/solver.md § Error Reporting, pub's `failure.dart`): turns a failure's
 * derivation graph into numbered English lines. Only lines referred to later get a number,
 * as in pub. The walk is iterative (an explicit task stack), so a 10,000-deep chain renders
 * without exhausting the call stack. Wording follows pub's, with rumpkg's extra causes:
 * targets ("does not ship target T"), capabilities ("requires bus:pci", "is provided only by",
 * "no component for T provides C") and conflicts ("conflicts with").
 */
import { RumpkgError, type AnyOfOther, type LockedAnyOf } from '../components/index.js';
import { PROJECT, anyOfGroup, capabilityOf, isFailure, type Incompatibility } from './incompatibility.js';
import type { Failure } from './solver.js';
import { negate, satisfies, type Term } from './term.js';
import { contains, isAny, parseVersion, renderSet } from './version-set.js';

export interface RenderOptions {
  /** Overrides the failure's target in the wording. */
  target?: string;
}

class Words {
  constructor(
    private readonly failure: Failure,
    readonly target: string,
  ) {}

  ref(t: Term): string {
    if (t.name === PROJECT) return this.failure.project;
    const group = anyOfGroup(t.name);
    if (group !== null) return oneOf(group);
    return capabilityOf(t.name) ?? t.name;
  }

  terse(t: Term, allowEvery = false): string {
    if (t.name === PROJECT) return this.failure.project;
    const virtual = capabilityOf(t.name) ?? (anyOfGroup(t.name) === null ? null : this.ref(t));
    if (virtual !== null) {
      if (isAny(t.set)) return virtual;
      const providers = this.failure.providers[t.name] ?? [];
      const members = providers.filter((_, i) => contains(t.set, parseVersion(`${i}.0.0`)));
      if (members.length === providers.length) return virtual;
      const none = capabilityOf(t.name) === null ? 'no member' : 'no component';
      return members.length === 0 ? `${virtual} from ${none}` : `${virtual} from ${members.join(' or ')}`;
    }
    if (allowEvery && isAny(t.set)) return `every version of ${t.name}`;
    return `${t.name} ${renderSet(t.set)}`;
  }

  /** The verb joining an incompatibility's positive side to its negative side. */
  verb(i: Incompatibility): string {
    if (i.cause.kind === 'dependency') return 'depends on';
    if (i.cause.kind === 'provider' || i.cause.kind === 'alternative') {
      const own = i.terms.find((t) => t.positive);
      if (own !== undefined && this.terse(own) === this.ref(own)) return i.cause.kind === 'provider' ? 'is provided only by' : 'is satisfied only by';
    }
    return 'requires';
  }

  /** A term as the object of a verb: `tcpip` rather than pub's `tcpip any`. */
  object(_i: Incompatibility, t: Term): string {
    return isAny(t.set) ? this.ref(t) : this.terse(t);
  }

  describe(i: Incompatibility): string {
    const c = i.cause;
    const pos = i.terms.filter((t) => t.positive);
    const neg = i.terms.filter((t) => !t.positive);
    const first = i.terms[0];
    switch (c.kind) {
      case 'dependency':
      case 'requires':
      case 'provider':
      case 'anyOf':
      case 'alternative':
        if (pos.length === 1 && neg.length === 1) {
          const p = pos[0] as Term;
          const subject = c.kind === 'provider' || c.kind === 'alternative' ? this.terse(p) : this.terse(p, true);
          return `${subject} ${this.verb(i)} ${this.object(i, neg[0] as Term)}`;
        }
        break;
      case 'conflict':
        if (i.terms.length === 2 && first !== undefined) return `${this.terse(first, true)} conflicts with ${this.ref(i.terms[1] as Term)}`;
        if (first !== undefined) return `${this.terse(first, true)} conflicts with itself`;
        break;
      case 'noVersions': {
        if (first === undefined) break;
        const notes: string[] = [];
        if (c.yanked.length > 0) notes.push(`${c.yanked.join(', ')} ${c.yanked.length === 1 ? 'is' : 'are'} yanked`);
        if (c.prerelease.length > 0) notes.push(`${c.prerelease.join(', ')} ${c.prerelease.length === 1 ? 'is a prerelease' : 'are prereleases'}`);
        return `no versions of ${this.ref(first)} match ${renderSet(first.set)}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`;
      }
      case 'target':
        if (first === undefined) break;
        return isAny(first.set) ? `no version of ${this.ref(first)} ships target ${this.target}` : `${this.terse(first)} does not ship target ${this.target}`;
      case 'unknown':
        if (first !== undefined) return `${this.ref(first)} doesn't exist`;
        break;
      case 'emptyRange':
        if (first !== undefined) return `${this.terse(first, true)} depends on ${c.dependency} ${c.range}, a range no version matches`;
        break;
      case 'noProvider': {
        const where = c.elsewhere.length === 0 ? '' : ` (${c.elsewhere.join(', ')} ${c.elsewhere.length === 1 ? 'provides' : 'provide'} it but not for ${this.target})`;
        return `no component for ${this.target} provides ${c.capability}${where}`;
      }
      case 'noAlternative': {
        if (first === undefined) break;
        if (!isAny(first.set) && (this.failure.providers[first.name] ?? []).length > 0) {
          return `${this.ref(first)} has no other member for ${this.target}`;
        }
        return `${this.ref(first)} has no member for ${this.target}${this.absent(c.group, c.elsewhere)}`;
      }
      case 'root':
      case 'derived':
        break;
    }
    return this.generic(i);
  }

  /** Why the members of an any-of group are missing: ` (a ships other targets only; b does not exist)`. */
  private absent(group: readonly string[], elsewhere: readonly string[]): string {
    const notes: string[] = [];
    if (elsewhere.length > 0) notes.push(`${elsewhere.join(', ')} ${elsewhere.length === 1 ? 'ships' : 'ship'} other targets only`);
    const missing = group.filter((n) => !elsewhere.includes(n));
    if (missing.length > 0) notes.push(`${missing.join(', ')} ${missing.length === 1 ? 'does' : 'do'} not exist`);
    return notes.length === 0 ? '' : ` (${notes.join('; ')})`;
  }

  private generic(i: Incompatibility): string {
    if (isFailure(i)) return 'version solving failed';
    const t = i.terms;
    if (t.length === 1) {
      const only = t[0] as Term;
      const cap = capabilityOf(only.name);
      if (cap !== null && only.positive && this.terse(only) === cap) return `${cap} cannot be provided`;
      if (anyOfGroup(only.name) !== null && only.positive && this.terse(only) === this.ref(only)) return `${this.ref(only)} cannot be satisfied`;
      return `${isAny(only.set) ? this.ref(only) : this.terse(only)} is ${only.positive ? 'forbidden' : 'required'}`;
    }
    if (t.length === 2) {
      const [a, b] = t as [Term, Term];
      if (a.positive === b.positive) {
        if (a.positive) {
          const x = isAny(a.set) ? this.ref(a) : this.terse(a);
          const y = isAny(b.set) ? this.ref(b) : this.terse(b);
          return `${x} is incompatible with ${y}`;
        }
        return `either ${this.terse(a)} or ${this.terse(b)}`;
      }
    }
    const positive = t.filter((x) => x.positive);
    const negative = t.filter((x) => !x.positive).map((x) => (isAny(x.set) ? this.ref(x) : this.terse(x)));
    if (positive.length > 0 && negative.length > 0) {
      if (positive.length === 1) return `${this.terse(positive[0] as Term, true)} requires ${negative.join(' or ')}`;
      return `if ${positive.map((x) => this.terse(x)).join(' and ')} then ${negative.join(' or ')}`;
    }
    if (positive.length > 0) return `one of ${positive.map((x) => this.terse(x)).join(' or ')} must be false`;
    return `one of ${negative.join(' or ')} must be true`;
  }

  and(a: Incompatibility, b: Incompatibility, aLine?: number, bLine?: number): string {
    return (
      this.requiresBoth(a, b, aLine, bLine) ??
      this.requiresThrough(a, b, aLine, bLine) ??
      this.requiresForbidden(a, b, aLine, bLine) ??
      `${this.describe(a)}${aLine === undefined ? '' : ` (${aLine})`} and ${this.describe(b)}${bLine === undefined ? '' : ` (${bLine})`}`
    );
  }

  private single(i: Incompatibility, positive: boolean): Term | null {
    let found: Term | null = null;
    for (const t of i.terms) {
      if (t.positive !== positive) continue;
      if (found !== null) return null;
      found = t;
    }
    return found;
  }

  private requiresBoth(a: Incompatibility, b: Incompatibility, aLine?: number, bLine?: number): string | null {
    if (a.terms.length === 1 || b.terms.length === 1) return null;
    const ap = this.single(a, true);
    const bp = this.single(b, true);
    if (ap === null || bp === null || ap.name !== bp.name || this.terse(ap) !== this.terse(bp)) return null;
    const an = a.terms.filter((t) => !t.positive).map((t) => this.object(a, t)).join(' or ');
    const bn = b.terms.filter((t) => !t.positive).map((t) => this.object(b, t)).join(' or ');
    const verb = a.cause.kind === 'dependency' && b.cause.kind === 'dependency' ? 'depends on' : 'requires';
    return `${this.terse(ap, true)} ${verb} both ${an}${aLine === undefined ? '' : ` (${aLine})`} and ${bn}${bLine === undefined ? '' : ` (${bLine})`}`;
  }

  private requiresThrough(a: Incompatibility, b: Incompatibility, aLine?: number, bLine?: number): string | null {
    if (a.terms.length === 1 || b.terms.length === 1) return null;
    const an = this.single(a, false);
    const bn = this.single(b, false);
    if (an === null && bn === null) return null;
    const ap = this.single(a, true);
    const bp = this.single(b, true);
    let prior: Incompatibility;
    let priorNegative: Term;
    let priorLine: number | undefined;
    let latter: Incompatibility;
    let latterLine: number | undefined;
    if (an !== null && bp !== null && an.name === bp.name && satisfies(negate(an), bp)) {
      [prior, priorNegative, priorLine, latter, latterLine] = [a, an, aLine, b, bLine];
    } else if (bn !== null && ap !== null && bn.name === ap.name && satisfies(negate(bn), ap)) {
      [prior, priorNegative, priorLine, latter, latterLine] = [b, bn, bLine, a, aLine];
    } else {
      return null;
    }
    const priorPositives = prior.terms.filter((t) => t.positive);
    let out = priorPositives.length > 1
      ? `if ${priorPositives.map((t) => this.terse(t)).join(' or ')} then `
      : `${this.terse(priorPositives[0] as Term, prior.cause.kind !== 'provider')} ${this.verb(prior)} `;
    out += this.object(prior, priorNegative);
    if (priorLine !== undefined) out += ` (${priorLine})`;
    out += ` which ${this.verb(latter)} `;
    out += latter.terms.filter((t) => !t.positive).map((t) => this.object(latter, t)).join(' or ');
    if (latterLine !== undefined) out += ` (${latterLine})`;
    return out;
  }

  private requiresForbidden(a: Incompatibility, b: Incompatibility, aLine?: number, bLine?: number): string | null {
    if (a.terms.length !== 1 && b.terms.length !== 1) return null;
    const [prior, latter, priorLine, latterLine] = a.terms.length === 1 ? [b, a, bLine, aLine] : [a, b, aLine, bLine];
    const negative = this.single(prior, false);
    const latterTerm = latter.terms[0];
    if (negative === null || latterTerm === undefined || negative.name !== latterTerm.name || !satisfies(negate(negative), latterTerm)) return null;
    const positives = prior.terms.filter((t) => t.positive);
    let out = positives.length > 1
      ? `if ${positives.map((t) => this.terse(t)).join(' or ')} then `
      : `${this.terse(positives[0] as Term, prior.cause.kind !== 'provider')} ${this.verb(prior)} `;
    // What was asked for names the range better than an "unknown" fact's `any`.
    out += `${this.object(prior, latter.cause.kind === 'unknown' ? negative : latterTerm)} `;
    if (priorLine !== undefined) out += `(${priorLine}) `;
    const c = latter.cause;
    switch (c.kind) {
      case 'noVersions':
        out += "which doesn't match any versions";
        break;
      case 'unknown':
        out += "which doesn't exist";
        break;
      case 'target':
        out += `which does not ship target ${this.target}`;
        break;
      case 'noProvider':
        out += `which no component for ${this.target} provides`;
        break;
      case 'noAlternative':
        out += `which has no member for ${this.target}${this.absent(c.group, c.elsewhere)}`;
        break;
      case 'conflict':
        out += 'which conflicts with itself';
        break;
      case 'emptyRange':
        out += `which depends on ${c.dependency} ${c.range}, a range no version matches`;
        break;
      default:
        out += 'which is forbidden';
    }
    if (latterLine !== undefined) out += ` (${latterLine})`;
    return out;
  }
}

/** `a or b`, `a, b or c`: the members of an any-of group as one requirement. */
function oneOf(group: readonly string[]): string {
  const list = group.length <= 1 ? group.join('') : `${group.slice(0, -1).join(', ')} or ${group[group.length - 1] as string}`;
  return `one of ${list}`;
}

type Task = { visit: Incompatibility; conclusion: boolean } | { run: () => void };

/** Renders a failure as pub-style English: one sentence per line, numbered where referred to. */
export function renderFailure(failure: Failure, options: RenderOptions = {}): string {
  const words = new Words(failure, options.target ?? failure.target);
  const root = failure.root;
  const derivations = new Map<number, number>();
  {
    const stack = [root];
    while (stack.length > 0) {
      const i = stack.pop() as Incompatibility;
      const n = derivations.get(i.id);
      derivations.set(i.id, (n ?? 0) + 1);
      if (n === undefined && i.cause.kind === 'derived') stack.push(i.cause.other, i.cause.conflict);
    }
  }
  const lines: Array<[string, number | undefined]> = [];
  const lineNumbers = new Map<number, number>();
  const write = (i: Incompatibility, message: string, numbered: boolean): void => {
    if (numbered) {
      const n = lineNumbers.size + 1;
      lineNumbers.set(i.id, n);
      lines.push([message, n]);
    } else {
      lines.push([message, undefined]);
    }
  };
  const isDerived = (i: Incompatibility): boolean => i.cause.kind === 'derived';
  const causes = (i: Incompatibility): [Incompatibility, Incompatibility] => {
    if (i.cause.kind !== 'derived') throw new Error('internal: not derived');
    return [i.cause.conflict, i.cause.other];
  };
  const singleLine = (i: Incompatibility): boolean => causes(i).every((c) => !isDerived(c));
  const collapsible = (i: Incompatibility): boolean => {
    if ((derivations.get(i.id) ?? 0) > 1) return false;
    const [c, o] = causes(i);
    if (isDerived(c) && isDerived(o)) return false;
    if (!isDerived(c) && !isDerived(o)) return false;
    return !lineNumbers.has((isDerived(c) ? c : o).id);
  };

  const tasks: Task[] = [];
  const visit = (i: Incompatibility, conclusion: boolean): Task[] => {
    const numbered = conclusion || (derivations.get(i.id) ?? 0) > 1;
    const conjunction = conclusion || i === root ? 'So,' : 'And';
    const text = words.describe(i);
    const [conflict, other] = causes(i);
    if (isDerived(conflict) && isDerived(other)) {
      const cl = lineNumbers.get(conflict.id);
      const ol = lineNumbers.get(other.id);
      if (cl !== undefined && ol !== undefined) {
        write(i, `Because ${words.and(conflict, other, cl, ol)}, ${text}.`, numbered);
        return [];
      }
      if (cl !== undefined || ol !== undefined) {
        const [withLine, withoutLine, line] = cl !== undefined ? [conflict, other, cl] : [other, conflict, ol as number];
        return [
          { visit: withoutLine, conclusion: false },
          { run: () => write(i, `${conjunction} because ${words.describe(withLine)} (${line}), ${text}.`, numbered) },
        ];
      }
      const slConflict = singleLine(conflict);
      const slOther = singleLine(other);
      if (slConflict || slOther) {
        const [first, second] = slOther ? [conflict, other] : [other, conflict];
        return [
          { visit: first, conclusion: false },
          { visit: second, conclusion: false },
          { run: () => write(i, `Thus, ${text}.`, numbered) },
        ];
      }
      return [
        { visit: conflict, conclusion: true },
        { run: () => lines.push(['', undefined]) },
        { visit: other, conclusion: false },
        { run: () => write(i, `${conjunction} because ${words.describe(conflict)} (${lineNumbers.get(conflict.id)}), ${text}.`, numbered) },
      ];
    }
    if (isDerived(conflict) || isDerived(other)) {
      const [derived, ext] = isDerived(conflict) ? [conflict, other] : [other, conflict];
      const dl = lineNumbers.get(derived.id);
      if (dl !== undefined) {
        write(i, `Because ${words.and(ext, derived, undefined, dl)}, ${text}.`, numbered);
        return [];
      }
      if (collapsible(derived)) {
        const [dc, doo] = causes(derived);
        const [collapsedDerived, collapsedExt] = isDerived(dc) ? [dc, doo] : [doo, dc];
        return [
          { visit: collapsedDerived, conclusion: false },
          { run: () => write(i, `${conjunction} because ${words.and(collapsedExt, ext)}, ${text}.`, numbered) },
        ];
      }
      return [
        { visit: derived, conclusion: false },
        { run: () => write(i, `${conjunction} because ${words.describe(ext)}, ${text}.`, numbered) },
      ];
    }
    write(i, `Because ${words.and(conflict, other)}, ${text}.`, numbered);
    return [];
  };

  if (isDerived(root)) {
    tasks.push({ visit: root, conclusion: false });
    while (tasks.length > 0) {
      const t = tasks.pop() as Task;
      if ('run' in t) t.run();
      else tasks.push(...visit(t.visit, t.conclusion).reverse());
    }
  } else {
    write(root, `Because ${words.describe(root)}, version solving failed.`, false);
  }

  const last = [...lineNumbers.values()].pop();
  const padding = last === undefined ? 0 : `(${last}) `.length;
  const out: string[] = [];
  let lastWasEmpty = false;
  for (const [message, n] of lines) {
    if (message === '') {
      if (!lastWasEmpty) out.push('');
      lastWasEmpty = true;
      continue;
    }
    lastWasEmpty = false;
    out.push(n === undefined ? ' '.repeat(padding) + message : `(${n})`.padEnd(padding) + message);
  }
  return out.join('\n');
}

export interface FailureNode {
  id: number;
  terms: Array<{ name: string; positive: boolean; range: string }>;
  cause: string;
  text: string;
  causes?: [number, number];
  details?: Record<string, unknown>;
}

/** The derivation graph as JSON (`--json`): nodes numbered in a stable depth-first order, root 1. */
export function failureToJSON(failure: Failure): { project: string; target: string; nodes: FailureNode[] } {
  const words = new Words(failure, failure.target);
  const ids = new Map<number, number>();
  const order: Incompatibility[] = [];
  const stack = [failure.root];
  while (stack.length > 0) {
    const i = stack.pop() as Incompatibility;
    if (ids.has(i.id)) continue;
    ids.set(i.id, ids.size + 1);
    order.push(i);
    if (i.cause.kind === 'derived') stack.push(i.cause.other, i.cause.conflict);
  }
  const nodes = order.map((i): FailureNode => {
    const { kind, ...rest } = i.cause;
    const node: FailureNode = {
      id: ids.get(i.id) as number,
      terms: i.terms.map((t) => ({ name: t.name === PROJECT ? failure.project : t.name, positive: t.positive, range: renderSet(t.set) })),
      cause: kind,
      text: words.describe(i),
    };
    if (i.cause.kind === 'derived') node.causes = [ids.get(i.cause.conflict.id) as number, ids.get(i.cause.other.id) as number];
    else if (Object.keys(rest).length > 0) node.details = rest;
    return node;
  });
  return { project: failure.project, target: failure.target, nodes };
}

/** The typed error for a failed solve: E_RESOLVE with the explanation and the graph as context. */
export function resolutionError(failure: Failure): RumpkgError {
  const text = renderFailure(failure);
  return new RumpkgError('E_RESOLVE', `cannot resolve ${failure.project} for ${failure.target}:\n${text}`, {
    context: { project: failure.project, target: failure.target, explanation: text, derivation: failureToJSON(failure) },
    hint: 'change the requested ranges or targets named above, or publish a component that fits',
  });
}

/** Why another member of an any-of group is not the choice, as a clause. */
function otherClause(name: string, other: AnyOfOther, target: string): string {
  switch (other.reason) {
    case 'available':
      return `${name} would do as well`;
    case 'in-closure':
      return `${name} is in the closure too`;
    case 'missing':
      return `${name} is not published`;
    case 'target':
      return `${name} does not ship ${target}`;
    case 'unavailable':
      return `${name} has only yanked or prerelease versions for ${target}`;
    case 'conflict':
      return `${name} conflicts with ${other.with}`;
    case 'unusable':
      return `${name} cannot be used in this closure`;
    default: {
      const never: never = other;
      throw new Error(`internal: unknown any-of reason ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Which member satisfies an any-of group and why, as one sentence (`rumpkg why`, `rumpkg add`):
 * "@rump/fs-nfs needs one of @rump/net-net or @rump/sockin; @rump/net-net was chosen because
 * @rump/sockin does not ship hw-x86_64". `neededBy`: who else pulls the chosen member in.
 */
export function renderAnyOfChoice(requirer: string, key: string, choice: LockedAnyOf, options: { target: string; neededBy?: readonly string[] }): string {
  const others = Object.keys(choice.others)
    .sort()
    .map((n) => otherClause(n, choice.others[n] as AnyOfOther, options.target));
  let because: string;
  switch (choice.because) {
    case 'requested':
      because = 'rumpkg.json requests it';
      break;
    case 'needed': {
      const by = options.neededBy ?? [];
      because = by.length === 0 ? 'another component needs it anyway' : `${by.join(', ')} ${by.length === 1 ? 'needs' : 'need'} it anyway`;
      break;
    }
    case 'only':
      because = others.join(' and ');
      break;
    case 'first':
      because = ['it comes first by name', ...others].join('; ');
      break;
    case 'locked':
      because = ['rumpkg.lock had chosen it', ...others].join('; ');
      break;
    default: {
      const never: never = choice.because;
      throw new Error(`internal: unknown any-of choice ${String(never)}`);
    }
  }
  return `${requirer} needs ${oneOf(key.split('|'))}; ${choice.chosen} was chosen because ${because}`;
}
