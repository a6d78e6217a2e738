/**
 * `rumpkg audit [IMAGE] [--sbom cyclonedx|spdx] [-o FILE] [--advisories P] [--audit-level L]
 * [--deny ID...] [--components-dir DIR] [--target T] [--html FILE]`
 *
 * With IMAGE: which components are in the image, checked against its bytes (packager auditImage).
 * Fingerprints come from `--components-dir DIR`, else the project's lockfile + store (when run in
 * a project), else the configured registries. Without IMAGE, in a project: the lockfile's
 * closures (licences and advisories before building).
 *
 * Output: a table (component, version, licence, upstream, evidence), notes, the licence summary
 * and the advisories; `--json` the report. `--sbom F` prints the SBOM instead of the report, or
 * writes it to `-o FILE` (atomically) and prints the report. Exit 3 (E_AUDIT_FINDINGS) when an
 * advisory is at or above `--audit-level`, a component fails `--deny`, or an image with a manifest
 * holds components not as claimed; with `--json` the report is the only document on stdout and
 * the exit code says it. `--html FILE` also writes the self-contained HTML report
 * (packager/report: components, size treemap from the linker map, dependency graph).
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Command } from 'commander';
import type { AuditOptions } from '../../packager/index.js';
import { bold, createReporter, globalOptions, green, print, printJson, red, table, yellow } from '../output.js';

interface AuditCliOptions {
  sbom?: string;
  output?: string;
  advisories?: string;
  auditLevel?: string;
  deny?: string[];
  componentsDir?: string;
  target?: string;
  registry?: boolean;
  html?: string;
}

export function register(program: Command): void {
  program
    .command('audit')
    .description('which components are in an image (verified from its bytes), their licences, advisories and SBOM; without IMAGE: the lockfile')
    .argument('[image]', 'an image built by rumpkg build (or linked by hand)')
    .option('--sbom <format>', 'emit an SBOM: cyclonedx (CycloneDX 1.6 JSON) or spdx (SPDX 2.3 JSON)')
    .option('-o, --output <file>', 'write the SBOM to FILE (the report still goes to stdout)')
    .option('--advisories <path>', 'OSV advisories: a .json file or a directory of them')
    .option('--audit-level <level>', 'exit 3 when an advisory is at or above: low, moderate, high, critical')
    .option('--deny <id...>', 'licence ids a component must be usable without (e.g. GPL-2.0-only CDDL-1.0)')
    .option('--components-dir <dir>', 'fingerprints from unpacked components under DIR (e.g. DIR/<version>/<name>)')
    .option('-t, --target <target>', 'the target (images without a manifest; lockfile audits: one target)')
    .option('--no-registry', 'do not ask the registries for fingerprints')
    .option('--html <file>', 'also write a self-contained HTML report: components, size treemap, dependency graph')
    .action(async (imageArg: string | undefined, opts: AuditCliOptions, cmd: Command) => {
      const g = globalOptions(cmd);
      const reporter = createReporter(g);
      const packager = await import('../../packager/index.js');
      const abs = (p: string): string => (isAbsolute(p) ? p : join(g.cwd, p));
      const level = opts.auditLevel === undefined ? undefined : packager.parseAuditLevel(opts.auditLevel);
      const format = opts.sbom === undefined ? undefined : packager.parseSbomFormat(opts.sbom);
      if (opts.output !== undefined && format === undefined) {
        const { RumpkgError } = await import('../../components/index.js');
        throw new RumpkgError('E_USAGE', '-o FILE needs --sbom cyclonedx|spdx', { context: { output: opts.output } });
      }
      const advisories = opts.advisories === undefined ? undefined : await packager.readAdvisories(abs(opts.advisories));
      const policy = { ...(advisories === undefined ? {} : { advisories }), ...(opts.deny === undefined ? {} : { deny: opts.deny }) };
      const lockfile = existsSync(join(g.cwd, 'rumpkg.lock')) ? await packager.readLock(g.cwd) : undefined;

      let report;
      if (imageArg !== undefined) {
        const known = opts.componentsDir === undefined ? [] : await packager.readComponentsDir(abs(opts.componentsDir), opts.target === undefined ? {} : { target: opts.target });
        let lookup: AuditOptions['lookup'];
        if (opts.componentsDir === undefined && lockfile !== undefined) {
          const resolveDir = await packager.storeComponentDirResolver(g.cwd, { reporter });
          // An image without a manifest does not say its target: try every locked target.
          lookup = async ({ target }) => {
            const targets = target === null ? Object.keys(lockfile.targets).sort() : [target];
            const found = await Promise.all(targets.map((t) => packager.knownFromLockfile(lockfile, t, resolveDir, { reporter, ...(resolveDir.printsCache === undefined ? {} : { printsCache: resolveDir.printsCache }) })));
            return found.flat();
          };
        } else if (opts.componentsDir === undefined && opts.registry !== false) {
          const { openRegistryClient, createStore } = await import('../../registry/index.js');
          const { client, home } = await openRegistryClient({ cwd: g.cwd, reporter });
          lookup = packager.createRegistryLookup(client, createStore(client, { home }), { reporter });
        }
        report = await packager.auditImage(abs(imageArg), {
          knownComponents: known,
          ...(lockfile === undefined ? {} : { lockfile }),
          ...(lookup === undefined ? {} : { lookup }),
          ...(opts.target === undefined ? {} : { target: opts.target }),
          ...policy,
        });
      } else {
        if (lockfile === undefined) {
          const { RumpkgError } = await import('../../components/index.js');
          throw new RumpkgError('E_USAGE', `nothing to audit: give IMAGE, or run in a project with a rumpkg.lock (${g.cwd})`, {
            context: { cwd: g.cwd },
            hint: 'rumpkg audit build/<target>/<name>, or rumpkg install first',
          });
        }
        const project = await packager.readProject(g.cwd).catch(() => undefined);
        report = packager.auditLockfile(lockfile, {
          ...(opts.target === undefined ? {} : { target: opts.target }),
          ...(project === undefined ? {} : { project: project.name }),
          ...policy,
        });
      }
      const verdict = packager.auditVerdict(report, level === undefined ? {} : { auditLevel: level });

      if (opts.html !== undefined) {
        // The size treemap needs the linker map `rumpkg build` leaves next to the image.
        let size;
        let sizeNote: string | undefined;
        if (imageArg === undefined) sizeNote = 'A lockfile audit has no image to measure.';
        else {
          const { isRumpkgError } = await import('../../components/index.js');
          try {
            size = await packager.readSizeReport(abs(imageArg));
          } catch (e) {
            if (!isRumpkgError(e)) throw e;
            sizeNote = `No size report: ${e.code === 'E_NOT_FOUND' ? 'no linker map next to the image (rumpkg build writes IMAGE.map)' : e.code}.`;
          }
        }
        const page = await packager.planAuditHtml(report, { ...(size === undefined ? {} : { size }), ...(sizeNote === undefined ? {} : { sizeNote }), ...(lockfile === undefined ? {} : { lockfile }) });
        const { writeFileAtomic } = await import('../../registry/index.js');
        await writeFileAtomic(abs(opts.html), page);
        reporter.info(`wrote the HTML report to ${abs(opts.html)}`);
      }

      if (format !== undefined) {
        const text = packager.renderSbom(report, format);
        if (opts.output === undefined) {
          process.stdout.write(text);
          if (verdict.error !== undefined) process.exitCode = verdict.error.exitCode;
          return;
        }
        const { writeFileAtomic } = await import('../../registry/index.js');
        await writeFileAtomic(abs(opts.output), text);
        reporter.info(`wrote ${format} SBOM to ${abs(opts.output)}`);
      }
      if (g.json) {
        printJson({ ...report, verdict: { pass: verdict.error === undefined, ...(verdict.error === undefined ? {} : { error: verdict.error.toJSON() }) } });
        if (verdict.error !== undefined) process.exitCode = verdict.error.exitCode;
        return;
      }
      renderHuman(report);
      if (verdict.error !== undefined) throw verdict.error;
    });
}

type Report = Awaited<ReturnType<(typeof import('../../packager/index.js'))['auditImage']>>;

function renderHuman(report: Report): void {
  if (report.image !== null) {
    print(`${bold(report.image.path)}: ${report.image.machine} ELF${report.image.class}, ${report.image.bytes} bytes, ${report.image.sha256}`);
    print(`target ${report.target ?? 'unknown'}, manifest ${report.manifest === 'missing' ? red('missing') : 'embedded'}${report.project === null ? '' : `, project ${report.project}`}`);
  } else print(`${bold('lockfile')}${report.project === null ? '' : ` of ${report.project}`}${report.target === null ? '' : ` (${report.target})`}`);
  const paint = (e: string): string => (e === 'confirmed' || e === 'locked' ? green(e) : e === 'unverified' ? yellow(e) : red(e));
  const rows = [['component', 'version', 'licence', 'upstream', 'evidence'].map(bold)];
  for (const c of report.components) {
    const up = c.upstream === null ? '-' : `${c.upstream.repository}:${c.upstream.path}@${c.upstream.ref ?? c.upstream.commit ?? '?'}`;
    rows.push([c.name, c.version ?? c.candidates.join('|'), c.license || '-', up, paint(c.evidence)]);
  }
  print(table(rows));
  for (const c of report.components) for (const r of c.reasons) print(`  ${c.name}: ${r}`);
  for (const n of report.notes) print(`note: ${n}`);
  if (report.unattributedLinkSet.length > 0) {
    print(yellow(`${report.unattributedLinkSet.length} link-set entr${report.unattributedLinkSet.length === 1 ? 'y' : 'ies'} no known component accounts for: ${report.unattributedLinkSet.map((e) => e.rcName ?? e.level ?? '?').join(', ')}`));
  }
  print('');
  print(bold('licences'));
  print(table(report.licenses.summary.map((s) => [s.license, `${s.components.length}`, s.notice ?? ''])));
  for (const f of report.licenses.findings) print(red(`denied: ${f.message}`));
  print('');
  if (report.advisories.length === 0) print(bold('advisories: none matched'));
  else {
    print(bold(`advisories: ${report.advisories.length}`));
    print(table(report.advisories.map((a) => [a.severity === 'critical' || a.severity === 'high' ? red(a.severity) : yellow(a.severity), a.id, `${a.component}@${a.version}`, a.fixed === undefined ? 'no fix' : `fixed in ${a.fixed}`, a.summary])));
  }
}
