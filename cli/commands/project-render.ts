/** Shared rendering for the project commands (add, remove, install, update). */
import type { GlobalOptions } from '../output.js';
import { bold, dim, green, jsonText, note, red, yellow } from '../output.js';
import type { ProjectResult } from '../../packager/index.js';

/** Renders a project command's result: notes on stderr, the rest on stdout; returns what it wrote to stdout. */
export function renderProjectResult(g: GlobalOptions, verb: string, r: ProjectResult): string {
  const lines: string[] = [];
  const print = (line: string): void => {
    lines.push(`${line}\n`);
  };
  if (g.json) {
    const text = jsonText({
      project: r.manifest.name,
      targets: r.manifest.targets,
      components: r.manifest.components,
      targetComponents: r.manifest.targetComponents ?? {},
      lockWritten: r.lockWritten,
      ...(r.lockReason === undefined ? {} : { lockReason: r.lockReason }),
      changes: r.changes,
      fetched: r.fetched,
      notes: r.notes,
      closures: Object.fromEntries(
        Object.entries(r.lockfile.targets).map(([t, lt]) => [
          t,
          { platform: lt.platform, components: Object.fromEntries(Object.entries(lt.components).map(([n, c]) => [n, c.version])), linkOrder: lt.linkOrder, initOrder: lt.initOrder },
        ]),
      ),
    });
    process.stdout.write(text);
    return text;
  }
  for (const n of r.notes) note(g, n);
  for (const c of r.changes) {
    if (c.from === undefined) print(`${green('+')} ${c.name}@${c.to} ${dim(`(${c.target})`)}`);
    else if (c.to === undefined) print(`${red('-')} ${c.name}@${c.from} ${dim(`(${c.target})`)}`);
    else print(`${yellow('~')} ${c.name} ${c.from} → ${c.to} ${dim(`(${c.target})`)}`);
  }
  if (!g.quiet) {
    for (const [t, lt] of Object.entries(r.lockfile.targets)) {
      const n = Object.keys(lt.components).length;
      print(`${bold(t)}: ${n} component${n === 1 ? '' : 's'}${lt.platform === null ? '' : `, platform ${lt.platform}`}`);
    }
    // Say what happened to rumpkg.lock: never "unchanged" when it was written.
    const lock =
      r.changes.length > 0
        ? `${r.changes.length} change${r.changes.length === 1 ? '' : 's'}${r.lockWritten ? ', rumpkg.lock written' : ''}`
        : r.lockWritten
          ? `no version changed; rumpkg.lock rewritten: ${r.lockReason ?? 'its content changed'}`
          : 'lockfile unchanged';
    print(`${verb}: ${lock}, ${r.fetched} component${r.fetched === 1 ? '' : 's'} in the store`);
  }
  const text = lines.join('');
  process.stdout.write(text);
  return text;
}
