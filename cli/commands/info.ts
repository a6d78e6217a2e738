/**
 * `rumpkg info NAME[@RANGE] [--offline]`: a component's versions (yanked ones marked), `latest`
 * (the newest version not yanked), dist-tags, and for the newest version matching RANGE: targets, dependencies,
 * requires/provides/conflicts, library name, aliases and licence.
 */
import type { Command } from 'commander';
import { bold, createReporter, dim, globalOptions, note, print, printJson, red } from '../output.js';

export function register(program: Command): void {
  program
    .command('info')
    .description("show a component's versions, targets, dependencies and capabilities")
    .argument('<spec>', 'NAME or NAME@RANGE, e.g. tcpip or tcpip@^10')
    .option('--offline', 'use only the cache')
    .option('--registry <url>', 'ask this registry instead of the ones config.json and rumpkg.json pin')
    .action(async (spec: string, opts: { offline?: boolean; registry?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { parseSpec, RumpkgError, isRumpkgError } = await import('../../components/index.js');
      const { openRegistryClient, unknownComponentError } = await import('../../registry/index.js');
      const semver = { satisfies: ((await import('semver/functions/satisfies.js')) as unknown as { default: typeof import('semver/functions/satisfies.js') }).default };
      const parsed = parseSpec(spec);
      const { client, config } = await openRegistryClient({ cwd: g.cwd, ...(opts.registry === undefined ? {} : { registry: opts.registry }), offline: opts.offline === true, reporter: createReporter(g) });
      const { name, note: aliasNote } = await client.resolveName(parsed.name, { defaultScope: config.defaultScope });
      if (aliasNote !== undefined) note(g, aliasNote);
      const p = await client.packument(name).catch(async (e: unknown) => {
        throw isRumpkgError(e, 'E_NOT_FOUND') ? await unknownComponentError(client, parsed.name, name, { defaultScope: config.defaultScope }) : e;
      });
      const versions = await client.versions(name);
      const matching = versions.filter((v) => semver.satisfies(v.version, parsed.range, { includePrerelease: false }));
      const pick = [...matching].reverse().find((v) => !v.yanked) ?? matching.at(-1);
      if (pick === undefined) {
        throw new RumpkgError('E_NOT_FOUND', `no version of ${name} matches ${parsed.range} (published: ${versions.map((v) => v.version).join(', ') || 'none'})`, {
          context: { component: name, range: parsed.range },
        });
      }
      const m = pick.manifest;
      const rump = (m.rump ?? {}) as Record<string, unknown>;
      const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
      const targets = rump.targets !== null && typeof rump.targets === 'object' ? Object.keys(rump.targets as object).sort() : [];
      // `latest` is the newest version that is not yanked: a yanked version keeps its dist-tag
      // on the registry (yank only marks it), but nobody should be pointed at it.
      const latest = [...versions].reverse().find((v) => !v.yanked && !v.version.includes('-'))?.version ?? null;
      const shown = {
        name,
        latest,
        distTags: p['dist-tags'],
        versions: versions.map((v) => ({ version: v.version, yanked: v.yanked, ...(v.deprecated === undefined ? {} : { deprecated: v.deprecated }), integrity: v.integrity })),
        selected: {
          version: pick.version,
          description: typeof m.description === 'string' ? m.description : '',
          license: typeof m.license === 'string' ? m.license : '',
          lib: typeof rump.lib === 'string' ? rump.lib : '',
          kind: rump.kind === 'platform' ? 'platform' : 'component',
          aliases: list(rump.aliases),
          targets,
          dependencies: (m.dependencies ?? {}) as Record<string, string>,
          optionalDependencies: (rump.optionalDependencies ?? {}) as Record<string, string>,
          requires: list(rump.requires),
          provides: list(rump.provides),
          conflicts: list(rump.conflicts),
          integrity: pick.integrity,
          tarball: pick.tarball,
          yanked: pick.yanked,
        },
      };
      if (g.json) {
        printJson(shown);
        return;
      }
      const s = shown.selected;
      print(`${bold(`${name}@${s.version}`)}${s.yanked ? ` ${red('[yanked]')}` : ''} — ${s.description}`);
      print(`license: ${s.license}   lib: ${s.lib}${s.aliases.length > 0 ? `   aliases: ${s.aliases.join(', ')}` : ''}   kind: ${s.kind}`);
      print(`targets: ${s.targets.join(', ') || dim('(none)')}`);
      const deps = Object.entries(s.dependencies);
      print(`dependencies: ${deps.length === 0 ? dim('(none)') : deps.map(([k, v]) => `${k}@${v}`).join(', ')}`);
      if (s.requires.length > 0) print(`requires: ${s.requires.join(', ')}`);
      if (s.provides.length > 0) print(`provides: ${s.provides.join(', ')}`);
      if (s.conflicts.length > 0) print(`conflicts: ${s.conflicts.join(', ')}`);
      print(`integrity: ${s.integrity}`);
      print(`latest: ${shown.latest ?? dim('(every version is yanked)')}`);
      const yanked = new Set(shown.versions.filter((v) => v.yanked).map((v) => v.version));
      print(`dist-tags: ${Object.entries(shown.distTags).map(([t, v]) => `${t}=${v}${yanked.has(v) ? ` ${red('[yanked]')}` : ''}`).join(' ')}`);
      print(`versions: ${shown.versions.map((v) => (v.yanked ? `${v.version} ${red('[yanked]')}` : v.version)).join(', ')}`);
    });
}
