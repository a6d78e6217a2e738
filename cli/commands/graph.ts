/**
 * `rumpkg graph [--target T] [--format dot|svg|mermaid|json] [-o FILE]`: the closure of each
 * target as a graph (packager/report). From rumpkg.lock when it answers rumpkg.json, else from a
 * fresh resolution (nothing written); a failed resolution is drawn with its conflicts and the
 * command exits 1 after writing the picture. Default format: dot on stdout.
 */
import { isAbsolute, join } from 'node:path';
import type { Command } from 'commander';
import { createReporter, globalOptions } from '../output.js';

const FORMATS = ['dot', 'svg', 'mermaid', 'json'] as const;
type Format = (typeof FORMATS)[number];

export function register(program: Command): void {
  program
    .command('graph')
    .description('draw the closure of each target: components, platform, capability edges, conflicts (dot, svg, mermaid, json)')
    .option('-t, --target <target>', 'one target (default: every target of rumpkg.json)')
    .option('--format <format>', `output format: ${FORMATS.join(', ')}`, 'dot')
    .option('-o, --output <file>', 'write to FILE instead of stdout')
    .option('--offline', 'resolve from the cache only when the lockfile does not answer')
    .action(async (opts: { target?: string; format: string; output?: string; offline?: boolean }, cmd: Command) => {
      const g = globalOptions(cmd);
      if (!(FORMATS as readonly string[]).includes(opts.format)) {
        const { RumpkgError } = await import('../../components/index.js');
        throw new RumpkgError('E_USAGE', `unknown --format ${JSON.stringify(opts.format)}`, { hint: `use one of ${FORMATS.join(', ')}` });
      }
      const format = opts.format as Format;
      const reporter = createReporter(g);
      const packager = await import('../../packager/index.js');
      const { document, sources } = await packager.planProjectGraphs(g.cwd, {
        ...(opts.target === undefined ? {} : { target: opts.target }),
        ...(opts.offline === true ? { offline: true } : {}),
        reporter,
      });
      let text: string;
      if (format === 'json' || g.json) text = `${JSON.stringify({ ...document, sources }, null, 2)}\n`;
      else if (format === 'dot') text = packager.renderDot(document.graphs, { title: document.project });
      else if (format === 'mermaid') text = packager.renderMermaid(document.graphs);
      else text = await packager.renderGraphSvg(document.graphs, { title: document.project });
      if (opts.output === undefined) process.stdout.write(text);
      else {
        const { writeFileAtomic } = await import('../../registry/index.js');
        const out = isAbsolute(opts.output) ? opts.output : join(g.cwd, opts.output);
        await writeFileAtomic(out, text);
        reporter.info(`wrote the ${format} graph of ${Object.keys(sources).join(', ')} to ${out}`);
      }
      const failed = Object.entries(sources).filter(([, s]) => s === 'failed').map(([t]) => t);
      if (failed.length > 0) {
        // --json: the document above says it (sources, explanation); one document on stdout.
        if (g.json) {
          process.exitCode = 1;
          return;
        }
        const explanation = document.graphs.filter((x) => x.outcome === 'failed').map((x) => `${x.target}:\n${x.explanation ?? ''}`).join('\n');
        const { RumpkgError } = await import('../../components/index.js');
        throw new RumpkgError('E_RESOLVE', `cannot resolve ${document.project} for ${failed.join(', ')} (drawn in the graph):\n${explanation}`, {
          context: { project: document.project, targets: failed },
          hint: 'change the requested ranges or targets named above, or publish a component that fits',
        });
      }
    });
}
