/** `rumpkg.lock` (DESIGN.md §4.3): one closure per target, with sources, integrity and edges. */
import * as d from './common.js';
import { SCOPE_PATTERN, TARGET_PATTERN } from './patterns.js';

const lockedComponent = {
  type: 'object',
  description: 'One locked component of one target closure.',
  additionalProperties: false,
  required: [
    'version', 'registry', 'tarball', 'integrity', 'license', 'lib', 'kind', 'initLevels',
    'dependencies', 'requires', 'provides', 'optionalDependencies', 'requiredBy',
  ],
  properties: {
    version: { $ref: '#/$defs/version', description: 'The exact version.' },
    registry: { type: 'string', pattern: SCOPE_PATTERN, description: 'The scope key whose registry serves it (never a host name).' },
    tarball: {
      type: 'string',
      maxLength: 1024,
      // Relative to the registry of `registry` (no scheme, host, leading `/` or dot segments), so a
      // lockfile can never point a component at another server (RG-08).
      pattern: '^[A-Za-z0-9@%_+~-][A-Za-z0-9@%._+~-]*(/[A-Za-z0-9@%_+~-][A-Za-z0-9@%._+~-]*)*$',
      description: 'Registry-relative tarball path, e.g. `@rump/tcpip/-/tcpip-10.0.0.tgz` (never a URL).',
    },
    integrity: { $ref: '#/$defs/integrity', description: 'SRI sha512 of the tarball.' },
    license: { $ref: '#/$defs/license', description: 'SPDX licence expression.' },
    lib: { $ref: '#/$defs/lib', description: 'NetBSD library name.' },
    kind: { $ref: '#/$defs/kind', description: '`component` or `platform`.' },
    initLevels: { type: 'array', description: 'Init levels it registers.', items: { $ref: '#/$defs/initLevel' }, maxItems: 14 },
    dependencies: { $ref: '#/$defs/dependencyMap', description: 'Hard dependencies as declared (name → range).' },
    requires: {
      type: 'object',
      description: 'Capability requirement → the locked component that satisfies it.',
      propertyNames: { $ref: '#/$defs/capability' },
      additionalProperties: { $ref: '#/$defs/name' },
      maxProperties: 256,
    },
    provides: { type: 'array', description: 'Capabilities it provides.', items: { $ref: '#/$defs/capability' }, maxItems: 256 },
    optionalDependencies: { $ref: '#/$defs/dependencyMap', description: 'Optional edges (recorded, not pulled in).' },
    requiredBy: {
      type: 'array',
      description: 'Who pulled it in: component names, or `<project>` for a direct request.',
      items: { anyOf: [{ $ref: '#/$defs/name' }, { const: '<project>' }] },
      maxItems: 1024,
    },
  },
} as const;

const lockedTarget = {
  type: 'object',
  description: 'The closure of one target.',
  additionalProperties: false,
  required: ['platform', 'components', 'linkOrder', 'initOrder'],
  properties: {
    platform: {
      anyOf: [{ $ref: '#/$defs/name' }, { type: 'null' }],
      description: 'The platform package of the closure, or null when there is none.',
    },
    components: {
      type: 'object',
      description: 'Component name → locked component.',
      propertyNames: { $ref: '#/$defs/name' },
      additionalProperties: { $ref: '#/$defs/lockedComponent' },
      maxProperties: 4096,
    },
    linkOrder: {
      type: 'array',
      description: 'Link order: dependents before dependencies; the platform package last.',
      items: { $ref: '#/$defs/name' },
      maxItems: 4096,
    },
    initOrder: {
      type: 'array',
      description: 'Init order: by the real run order of rump init levels, then link order.',
      items: { $ref: '#/$defs/initStep' },
      maxItems: 65536,
    },
  },
} as const;

export const lockfileSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'urn:rumpkg:schema:lockfile:1',
  title: 'rumpkg lockfile (rumpkg.lock)',
  description: 'The resolved closure per target with exact versions, tarball locations, integrity and edges.',
  type: 'object',
  additionalProperties: false,
  required: ['lockfileVersion', 'revision', 'requested', 'targets'],
  properties: {
    lockfileVersion: { const: 1, description: 'Breaking format version (1).' },
    revision: { type: 'integer', minimum: 0, description: 'Additive format revision.' },
    requested: { $ref: '#/$defs/dependencyMap', description: 'The requests the closures answer (from rumpkg.json components).' },
    targets: {
      type: 'object',
      description: 'Target → its closure.',
      propertyNames: { type: 'string', pattern: TARGET_PATTERN, description: 'A target `<platform>-<arch>`, e.g. `posix-x86_64`.' },
      additionalProperties: { $ref: '#/$defs/lockedTarget' },
    },
  },
  $defs: {
    name: d.name,
    version: d.version,
    range: d.range,
    dependencyMap: d.dependencyMap,
    capability: d.capability,
    initLevel: d.initLevel,
    lib: d.lib,
    kind: d.kind,
    license: d.license,
    integrity: d.integrity,
    initStep: d.initStep,
    relativePath: d.relativePath,
    lockedComponent,
    lockedTarget,
  },
} as const;
