// packager/audit: what is inside an image, from its bytes — evidence, the audit report,
// licences, advisories, SBOMs, and size attribution.
export * from './evidence.js';
export * from './audit.js';
export * from './licenses.js';
export * from './advisories.js';
export * from './sbom.js';
export * from './size.js';
