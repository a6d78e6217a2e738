/**
 * SBOMs of what an audit found in an image (or a lockfile): CycloneDX 1.6 JSON and SPDX 2.3 JSON.
 * CycloneDX goes through the CycloneDX project's library (`@cyclonedx/cyclonedx-library`);
 * SPDX 2.3 JSON is written here by hand (no maintained npm library writes SPDX 2.3 documents).
 *
 * Deterministic: the same report gives the same bytes. The CycloneDX serial number and the SPDX
 * document namespace are a UUID derived (SHA-256, formatted as a version-5 UUID) from the image's
 * hash (a lockfile audit: from the sorted component ids). Timestamps come from
 * `SOURCE_DATE_EPOCH` (seconds) when set, otherwise the fixed value 1970-01-01T00:00:00Z, so an
 * SBOM never records when it was made unless asked to.
 *
 * Components are identified by purl (`pkg:npm/%40rump/tcpip@10.0.0`: components are npm-protocol
 * packages), hashed with their tarball's SRI integrity (SHA-512), licensed by their SPDX
 * expression, and point at their upstream sources (CycloneDX `externalReferences` of type
 * `vcs`; SPDX `downloadLocation` `git+https://github.com/<repo>@<ref>#<path>`).
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { RumpkgError, toolVersion } from '../../components/index.js';
import type { AuditComponent, AuditReport } from './audit.js';

type SbomFormat = 'cyclonedx' | 'spdx';

interface SbomOptions {
  /** Environment for SOURCE_DATE_EPOCH (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Tool version recorded (default rumpkg's own). */
  toolVersion?: string;
}

/** The purl of a component: `pkg:npm/%40scope/name@version`. */
export function componentPurl(name: string, version: string | null): string {
  const m = /^@([^/]+)\/(.+)$/.exec(name);
  const path = m === null ? encodeURIComponent(name) : `%40${encodeURIComponent(m[1]!)}/${encodeURIComponent(m[2]!)}`;
  return `pkg:npm/${path}${version === null ? '' : `@${encodeURIComponent(version)}`}`;
}

/** `sha512-<base64>` → `{ alg, hex }`; undefined for anything else. */
export function integrityHex(integrity: string | null): { alg: 'SHA-512' | 'SHA-384' | 'SHA-256'; hex: string } | undefined {
  if (integrity === null) return undefined;
  const m = /^(sha512|sha384|sha256)-([A-Za-z0-9+/]+={0,2})$/.exec(integrity.trim().split(/\s+/)[0] ?? '');
  if (m === null) return undefined;
  const hex = Buffer.from(m[2]!, 'base64').toString('hex');
  const alg = m[1] === 'sha512' ? 'SHA-512' : m[1] === 'sha384' ? 'SHA-384' : 'SHA-256';
  const len = { 'SHA-512': 128, 'SHA-384': 96, 'SHA-256': 64 }[alg];
  return hex.length === len ? { alg, hex } : undefined;
}

/** A version-5-shaped UUID from a seed string (deterministic). */
function seededUuid(seed: string): string {
  const h = createHash('sha256').update(`rumpkg-sbom\n${seed}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** ISO timestamp from SOURCE_DATE_EPOCH, else the fixed 1970-01-01T00:00:00Z. */
function sbomTimestamp(env: NodeJS.ProcessEnv = process.env): string {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw !== undefined && raw !== '') {
    if (!/^\d{1,12}$/.test(raw)) {
      throw new RumpkgError('E_USAGE', `SOURCE_DATE_EPOCH=${raw} is not a number of seconds`, { hint: 'unset it or give seconds since 1970' });
    }
    return new Date(Number(raw) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
  return '1970-01-01T00:00:00Z';
}

function seedOf(report: AuditReport): string {
  if (report.image !== null) return report.image.sha256;
  return report.components.map((c) => `${c.name}@${c.version ?? ''}`).join('\n');
}

/** The components an SBOM lists: those present in the image (or locked). */
function listed(report: AuditReport): AuditComponent[] {
  return report.components.filter((c) => c.evidence !== 'claimed-but-absent');
}

function upstreamUrl(c: AuditComponent): string | undefined {
  const u = c.upstream;
  if (u === null || typeof u.repository !== 'string' || !/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(u.repository)) return undefined;
  const at = u.commit ?? u.ref;
  if (at === undefined) return undefined; // no ref or commit recorded: no link to a tree
  const ref = encodeURIComponent(at);
  const path = (u.path ?? '').split('/').map(encodeURIComponent).join('/');
  return `https://github.com/${u.repository}/tree/${ref}${path === '' ? '' : `/${path}`}`;
}

function subjectName(report: AuditReport): string {
  if (report.project !== null) return report.project;
  if (report.image !== null) return report.image.path.split('/').pop() || 'image';
  return 'project';
}

type CycloneDxLibrary = typeof import('@cyclonedx/cyclonedx-library');
let cyclonedx: CycloneDxLibrary | undefined;
/** The CycloneDX library, loaded on first use (~100 ms of modules no other command needs). */
function cycloneDxLibrary(): CycloneDxLibrary {
  cyclonedx ??= createRequire(import.meta.url)('@cyclonedx/cyclonedx-library') as CycloneDxLibrary;
  return cyclonedx;
}

/**
 * CycloneDX 1.6 JSON (an object; serialise with JSON.stringify(…, null, 2)), built with the
 * CycloneDX project's own library (models + its JSON normaliser for spec 1.6): rumpkg decides
 * what goes in, the library decides how CycloneDX spells it. Lists keep the report's order (the
 * report is sorted), so the output is deterministic.
 */
export function renderCycloneDx(report: AuditReport, options: SbomOptions = {}): Record<string, unknown> {
  const { Enums, Models, Serialize, Spec } = cycloneDxLibrary();
  const version = options.toolVersion ?? toolVersion();
  const properties = (pairs: Array<[string, string]>): InstanceType<typeof Models.PropertyRepository> =>
    new Models.PropertyRepository(pairs.map(([n, v]) => new Models.Property(n, v)));
  const comps = listed(report).map((c) => {
    const purl = componentPurl(c.name, c.version);
    const m = /^@([^/]+)\/(.+)$/.exec(c.name);
    const hash = integrityHex(c.integrity);
    const vcs = upstreamUrl(c);
    const component = new Models.Component(c.kind === 'platform' ? Enums.ComponentType.Platform : Enums.ComponentType.Library, m === null ? c.name : m[2]!, {
      bomRef: purl,
      ...(m === null ? {} : { group: `@${m[1]}` }),
      ...(c.version === null ? {} : { version: c.version }),
      purl,
      properties: properties([
        ['rumpkg:evidence', c.evidence],
        ...(c.lib === '' ? [] : [['rumpkg:lib', c.lib] as [string, string]]),
        ...(c.upstream === null ? [] : [['rumpkg:upstream', `${c.upstream.repository} ${c.upstream.path} @ ${c.upstream.ref ?? c.upstream.commit ?? 'unknown ref'}`] as [string, string]]),
        ...(c.version === null ? [['rumpkg:candidate-versions', c.candidates.join(' ')] as [string, string]] : []),
      ]),
    });
    if (hash !== undefined) component.hashes.set(Enums.HashAlgorithm[hash.alg], hash.hex);
    if (c.license !== '') component.licenses.add(new Models.LicenseExpression(c.license));
    if (vcs !== undefined) component.externalReferences.add(new Models.ExternalReference(vcs, Enums.ExternalReferenceType.VCS, { comment: `upstream ${c.upstream!.path} at ${c.upstream!.ref ?? c.upstream!.commit ?? 'unknown ref'}` }));
    return component;
  });
  const subjectHash = report.image === null ? undefined : /^sha256-([0-9a-f]{64})$/.exec(report.image.sha256)?.[1];
  const subject = new Models.Component(report.image === null ? Enums.ComponentType.Application : Enums.ComponentType.Firmware, subjectName(report), {
    bomRef: 'rumpkg:subject',
    properties: properties([
      ['rumpkg:manifest', report.manifest],
      ...(report.target === null ? [] : [['rumpkg:target', report.target] as [string, string]]),
    ]),
    dependencies: new Models.BomRefRepository(comps.map((c) => c.bomRef)),
  });
  if (subjectHash !== undefined) subject.hashes.set(Enums.HashAlgorithm['SHA-256'], subjectHash);
  const bom = new Models.Bom({
    serialNumber: `urn:uuid:${seededUuid(seedOf(report))}`,
    metadata: new Models.Metadata({
      timestamp: new Date(sbomTimestamp(options.env)),
      tools: new Models.Tools({ components: new Models.ComponentRepository([new Models.Component(Enums.ComponentType.Application, 'rumpkg', { version })]) }),
      component: subject,
    }),
    components: new Models.ComponentRepository(comps),
  });
  // The library's normalizer gives the document as a plain object (its JSON serializer
  // stringifies exactly this; keys left undefined vanish there as in the rendered output).
  return new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6).makeForBom().normalize(bom, { sortLists: false }) as unknown as Record<string, unknown>;
}

const spdxIdPart = (s: string): string => s.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '') || 'x';

/** SPDX 2.3 JSON (an object). */
export function renderSpdx(report: AuditReport, options: SbomOptions = {}): Record<string, unknown> {
  const version = options.toolVersion ?? toolVersion();
  const uuid = seededUuid(seedOf(report));
  const name = subjectName(report);
  const subjectId = 'SPDXRef-Subject';
  const refs = new Set<string>();
  const packages = listed(report).map((c) => {
    const id = `SPDXRef-Package-${spdxIdPart(c.name)}${c.version === null ? '' : `-${spdxIdPart(c.version)}`}`;
    for (const m of c.license.matchAll(/LicenseRef-[A-Za-z0-9.-]+/g)) refs.add(m[0]);
    const hash = integrityHex(c.integrity);
    const u = c.upstream;
    const download =
      u !== null && /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(u.repository) ? `git+https://github.com/${u.repository}@${u.commit ?? u.ref ?? 'unknown'}#${u.path}` : 'NOASSERTION';
    return {
      SPDXID: id,
      name: c.name,
      ...(c.version === null ? {} : { versionInfo: c.version }),
      downloadLocation: download,
      filesAnalyzed: false,
      ...(hash === undefined ? {} : { checksums: [{ algorithm: hash.alg.replace('-', ''), checksumValue: hash.hex }] }),
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: c.license === '' ? 'NOASSERTION' : c.license,
      copyrightText: 'NOASSERTION',
      ...(u === null ? {} : { sourceInfo: `upstream ${u.project ?? ''} ${u.repository} ${u.path} at ${u.ref ?? 'unknown ref'}${u.commit === undefined ? '' : ` (${u.commit})`}`.replace(/\s+/g, ' ').trim() }),
      primaryPackagePurpose: 'LIBRARY',
      externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: componentPurl(c.name, c.version) }],
      comment: `rumpkg audit evidence: ${c.evidence}${c.reasons.length === 0 ? '' : ` (${c.reasons.join('; ')})`}`,
    };
  });
  const subjectHash = report.image === null ? undefined : /^sha256-([0-9a-f]{64})$/.exec(report.image.sha256)?.[1];
  const subject = {
    SPDXID: subjectId,
    name,
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    ...(subjectHash === undefined ? {} : { checksums: [{ algorithm: 'SHA256', checksumValue: subjectHash }] }),
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: 'NOASSERTION',
    copyrightText: 'NOASSERTION',
    primaryPackagePurpose: report.image === null ? 'APPLICATION' : 'FIRMWARE',
    comment: `rumpkg audit: manifest ${report.manifest}${report.target === null ? '' : `, target ${report.target}`}`,
  };
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${name} (rumpkg audit)`,
    documentNamespace: `https://spdx.org/spdxdocs/rumpkg-${spdxIdPart(name)}-${uuid}`,
    creationInfo: { created: sbomTimestamp(options.env), creators: [`Tool: rumpkg-${version}`] },
    documentDescribes: [subjectId],
    packages: [subject, ...packages],
    relationships: [
      { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: subjectId },
      ...packages.map((p) => ({ spdxElementId: subjectId, relationshipType: 'CONTAINS', relatedSpdxElement: p.SPDXID })),
    ],
    ...(refs.size === 0
      ? {}
      : {
          hasExtractedLicensingInfos: [...refs].sort().map((id) => ({
            licenseId: id,
            extractedText: `${id}: licence text as recorded by the upstream sources of the components that name it`,
            name: id.slice('LicenseRef-'.length),
          })),
        }),
  };
}

/** The SBOM text (2-space JSON, trailing newline) in `format`. */
export function renderSbom(report: AuditReport, format: SbomFormat, options: SbomOptions = {}): string {
  const doc = format === 'cyclonedx' ? renderCycloneDx(report, options) : renderSpdx(report, options);
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** Parses a `--sbom` word (E_USAGE otherwise). */
export function parseSbomFormat(word: string): SbomFormat {
  const w = word.toLowerCase();
  if (w === 'cyclonedx' || w === 'spdx') return w;
  throw new RumpkgError('E_USAGE', `--sbom ${word}: expected cyclonedx or spdx`, { context: { format: word } });
}
