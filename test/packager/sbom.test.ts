/**
 * SBOMs of audited corpus images: CycloneDX 1.6 validated against the official schema
 * (bom-1.6 + its spdx and jsf schemas, vendored in test/fixtures-schemas/ with ajv draft-07),
 * SPDX 2.3 checked for its required structure; both deterministic (serial/namespace from the image
 * hash; timestamp from SOURCE_DATE_EPOCH or 1970-01-01T00:00:00Z) and listing what is in the image.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import AjvModule from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import { auditImage, buildProject, componentDirsFromRoot, componentPurl, integrityHex, readComponentsDir, renderCycloneDx, renderSbom, renderSpdx, type AuditReport } from '../../packager/index.js';
import { corpusRoot, TARGET, tempDir, writeProject } from './helpers.js';

const SCHEMAS = join(import.meta.dirname, '..', 'fixtures-schemas', 'cyclonedx');
const loadSchema = (f: string): object => JSON.parse(readFileSync(join(SCHEMAS, f), 'utf8')) as object;

function cycloneDxValidator() {
  const Ajv = (AjvModule as unknown as { default: typeof AjvModule.default }).default ?? AjvModule;
  const ajv = new Ajv({ strict: false, allErrors: true });
  // ajv-formats is not installed: the formats the schema uses, checked by pattern.
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  ajv.addFormat('iri-reference', /^[^\s]*$/);
  ajv.addFormat('uri', /^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$/);
  ajv.addFormat('idn-email', /^[^\s@]+@[^\s@]+$/);
  ajv.addSchema(loadSchema('spdx.schema.json'), 'spdx.schema.json');
  ajv.addSchema(loadSchema('jsf-0.82.schema.json'), 'jsf-0.82.schema.json');
  return ajv.compile(loadSchema('bom-1.6.schema.json'));
}

let report: AuditReport;
let image: string;

beforeAll(async () => {
  const root = await corpusRoot();
  const dir = tempDir('rumpkg-sbom-');
  writeProject(dir, root);
  const [r] = await buildProject(dir, { resolveComponentDir: componentDirsFromRoot(root) });
  image = r!.image;
  report = await auditImage(image, { knownComponents: await readComponentsDir(root, { target: TARGET }) });
}, 300_000);

describe('CycloneDX 1.6', () => {
  it('validates against the official schema', () => {
    const validate = cycloneDxValidator();
    const bom = renderCycloneDx(report, { env: {} });
    const ok = validate(bom);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('the schema validator can fail (a broken BOM is rejected)', () => {
    const validate = cycloneDxValidator();
    const bom = renderCycloneDx(report, { env: {} }) as { components: Array<Record<string, unknown>> };
    bom.components[0]!.hashes = [{ alg: 'SHA-512', content: 'not-hex' }];
    expect(validate(bom)).toBe(false);
    expect(validate({ ...renderCycloneDx(report, { env: {} }), serialNumber: 'urn:uuid:nope' })).toBe(false);
  });

  it('lists the image components with purl, hash from integrity, licence and upstream', () => {
    const bom = renderCycloneDx(report, { env: {} }) as {
      serialNumber: string;
      metadata: { timestamp: string; component: { hashes: Array<{ content: string }> } };
      components: Array<{ purl: string; hashes: Array<{ alg: string; content: string }>; licenses: Array<{ expression: string }>; externalReferences?: Array<{ type: string; url: string }> }>;
    };
    expect(bom.components.map((c) => c.purl)).toEqual(report.components.map((c) => componentPurl(c.name, c.version)));
    const tcpip = bom.components.find((c) => c.purl === 'pkg:npm/%40rump/tcpip@10.0.0')!;
    const locked = report.components.find((c) => c.name === '@rump/tcpip')!;
    expect(tcpip.hashes).toEqual([{ alg: 'SHA-512', content: integrityHex(locked.integrity)!.hex }]);
    expect(tcpip.licenses).toEqual([{ expression: 'BSD-2-Clause' }]);
    expect(tcpip.externalReferences).toEqual([{ type: 'vcs', url: 'https://github.com/NetBSD/src/tree/netbsd-10-0-RELEASE/sys/rump/net/lib/libnetinet', comment: expect.any(String) }]);
    expect(bom.metadata.timestamp).toBe('1970-01-01T00:00:00.000Z');
    expect(bom.metadata.component.hashes[0]!.content).toBe(report.image!.sha256.slice('sha256-'.length));
  });

  it('is deterministic; SOURCE_DATE_EPOCH sets the timestamp, the serial follows the image hash', () => {
    expect(renderSbom(report, 'cyclonedx', { env: {} })).toBe(renderSbom(report, 'cyclonedx', { env: {} }));
    const a = renderCycloneDx(report, { env: { SOURCE_DATE_EPOCH: '1700000000' } }) as { metadata: { timestamp: string }; serialNumber: string };
    expect(a.metadata.timestamp).toBe('2023-11-14T22:13:20.000Z');
    const other = renderCycloneDx({ ...report, image: { ...report.image!, sha256: 'sha256-' + '0'.repeat(64) } }, { env: {} }) as { serialNumber: string };
    expect(other.serialNumber).not.toBe(a.serialNumber);
  });
});

describe('SPDX 2.3', () => {
  it('has the required document fields and one package per component, contained in the image', () => {
    const doc = renderSpdx(report, { env: {} }) as {
      spdxVersion: string;
      dataLicense: string;
      SPDXID: string;
      documentNamespace: string;
      creationInfo: { created: string; creators: string[] };
      packages: Array<{ SPDXID: string; name: string; versionInfo?: string; downloadLocation: string; licenseDeclared: string; checksums?: Array<{ algorithm: string; checksumValue: string }>; externalRefs?: Array<{ referenceLocator: string }> }>;
      relationships: Array<{ spdxElementId: string; relationshipType: string; relatedSpdxElement: string }>;
    };
    expect(doc).toMatchObject({ spdxVersion: 'SPDX-2.3', dataLicense: 'CC0-1.0', SPDXID: 'SPDXRef-DOCUMENT' });
    expect(doc.creationInfo).toEqual({ created: '1970-01-01T00:00:00Z', creators: [expect.stringMatching(/^Tool: rumpkg-/)] });
    expect(doc.documentNamespace).toMatch(/^https:\/\/spdx\.org\/spdxdocs\/rumpkg-hello-net-[0-9a-f-]{36}$/);
    const pkgs = doc.packages.slice(1);
    expect(pkgs.map((p) => p.name)).toEqual(report.components.map((c) => c.name));
    for (const p of doc.packages) expect(p.SPDXID).toMatch(/^SPDXRef-[A-Za-z0-9.-]+$/);
    expect(new Set(doc.packages.map((p) => p.SPDXID)).size).toBe(doc.packages.length);
    const tcpip = pkgs.find((p) => p.name === '@rump/tcpip')!;
    expect(tcpip).toMatchObject({ versionInfo: '10.0.0', licenseDeclared: 'BSD-2-Clause', downloadLocation: 'git+https://github.com/NetBSD/src@netbsd-10-0-RELEASE#sys/rump/net/lib/libnetinet' });
    expect(tcpip.checksums![0]!.algorithm).toBe('SHA512');
    expect(tcpip.externalRefs![0]!.referenceLocator).toBe('pkg:npm/%40rump/tcpip@10.0.0');
    expect(doc.relationships.filter((r) => r.relationshipType === 'CONTAINS')).toHaveLength(pkgs.length);
    expect(renderSbom(report, 'spdx', { env: {} })).toBe(renderSbom(report, 'spdx', { env: {} }));
  });
});

describe('CycloneDX through the CycloneDX library', () => {
  it('has the library-normalised shape: tools as components, one dependency entry per component, the subject depending on every listed one', () => {
    const bom = renderCycloneDx(report, { env: {} }) as {
      bomFormat: string;
      specVersion: string;
      version: number;
      metadata: { tools: { components: Array<{ type: string; name: string; version: string }> }; component: { 'bom-ref': string; type: string } };
      components: Array<{ 'bom-ref': string; type: string }>;
      dependencies: Array<{ ref: string; dependsOn?: string[] }>;
    };
    expect(bom).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.6', version: 1 });
    expect(bom.metadata.tools.components).toEqual([expect.objectContaining({ type: 'application', name: 'rumpkg' })]);
    expect(bom.metadata.component).toMatchObject({ 'bom-ref': 'rumpkg:subject', type: 'firmware' });
    const subject = bom.dependencies.find((d) => d.ref === 'rumpkg:subject');
    expect([...(subject?.dependsOn ?? [])].sort()).toEqual(bom.components.map((c) => c['bom-ref']).sort());
    expect(new Set(bom.dependencies.map((d) => d.ref))).toEqual(new Set(['rumpkg:subject', ...bom.components.map((c) => c['bom-ref'])]));
    expect(bom.components.some((c) => c.type === 'library')).toBe(true);
  });
});
