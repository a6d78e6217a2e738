import type { Command } from 'commander';
import { dim, globalOptions, print, printJson } from '../output.js';
import type { TreeNode } from '../../packager/index.js';

function render(nodes: TreeNode[], prefix: string, out: string[], target?: string): void {
  nodes.forEach((n, i) => {
    const last = i === nodes.length - 1;
    const via = n.targetOnly === true && target !== undefined ? `${n.via}, ${target} only` : n.via;
    out.push(`${prefix}${last ? '└── ' : '├── '}${n.name}@${n.version} ${dim(`(${via})`)}${n.deduped === true ? dim(' (see above)') : ''}`);
    render(n.children, `${prefix}${last ? '    ' : '│   '}`, out);
  });
}

/** `rumpkg tree [--target T]`: the locked closure as a tree (from the lockfile; offline). */
export function register(program: Command): void {
  program
    .command('tree')
    .description('show the locked dependency tree of a target')
    .option('--target <target>', 'which target (default: every locked target)')
    .action(async (opts: { target?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { readProject, readLock, planTree, projectRequests } = await import('../../packager/index.js');
      const { RumpkgError } = await import('../../components/index.js');
      const manifest = await readProject(g.cwd);
      const lock = await readLock(g.cwd);
      if (lock === undefined) throw new RumpkgError('E_NOT_FOUND', 'there is no rumpkg.lock', { hint: 'run rumpkg install' });
      const targets = opts.target !== undefined ? [opts.target] : Object.keys(lock.targets).sort();
      const trees = Object.fromEntries(targets.map((t) => [t, planTree(lock, t, projectRequests(manifest, t))]));
      if (g.json) return printJson(trees);
      for (const t of targets) {
        const out: string[] = [`${manifest.name} (${t})`];
        render(trees[t] ?? [], '', out, t);
        print(out.join('\n'));
      }
    });
}
