/** `rumpkg.lock` (DESIGN.md §4.3): one closure per target, with sources, integrity and edges. */
import * as d from './common.js';
import { ANY_OF_KEY_PATTERN, SCOPE_PATTERN, TARGET_PATTERN } from './patterns.js';

const anyOfOther = {
  description: 'Why another member of the group is not the choice.',
  anyOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['reason'],
      properties: {
        reason: {
          enum: ['available', 'in-closure', 'missing', 'target', 'unavailable', 'unusable'],
          description:
            '`available`: it would do as well; `in-closure`: it is in the closure too; `missing`: not published; `target`: no version ships the target; ' +
            '`unavailable`: only yanked or prerelease versions; `unusable`: tried first, could not be used in this closure.',
        },
      },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['reason', 'with'],
      properties: {
        reason: { const: 'conflict', description: 'It conflicts with a member of the closure.' },
        with: { $ref: '#/$defs/name', description: 'The member of the closure it conflicts with.' },
      },
    },
  ],
} as const;

const anyOfChoice = {
  type: 'object',
  description: 'How the closure satisfies one any-of group, and why with this member.',
  additionalProperties: false,
  required: ['chosen', 'because', 'others'],
  properties: {
    chosen: { $ref: '#/$defs/name', description: 'The member of the group in the closure that satisfies it.' },
    because: {
      enum: ['requested', 'needed', 'only', 'first', 'locked'],
      description:
        '`requested` by rumpkg.json; `needed` by another component anyway; the `only` member that can be used; the `first` by name of several that would do; `locked`: rumpkg.lock had chosen it.',
    },
    others: {
      type: 'object',
      description: 'Every other member of the group → why it is not the choice.',
      propertyNames: { $ref: '#/$defs/name' },
      additionalProperties: { $ref: '#/$defs/anyOfOther' },
      maxProperties: 64,
    },
  },
} as const;

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
    anyOf: {
      type: 'object',
      description: 'Its any-of requirements (absent when it has none): group key (members sorted, joined by `|`) → how the closure satisfies it (lockfile revision 1).',
      propertyNames: { type: 'string', pattern: ANY_OF_KEY_PATTERN, maxLength: 4096, description: 'Members sorted, joined by `|`.' },
      additionalProperties: { $ref: '#/$defs/anyOfChoice' },
      maxProperties: 64,
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
    requested: { $ref: '#/$defs/dependencyMap', description: 'The requests for every target the closures answer (from rumpkg.json components).' },
    targetRequested: {
      type: 'object',
      description: 'The requests for one target only (rumpkg.json targetComponents): target → name → range. Omitted when empty (revision 1).',
      propertyNames: { type: 'string', pattern: TARGET_PATTERN, description: 'A target `<platform>-<arch>`.' },
      additionalProperties: { $ref: '#/$defs/dependencyMap' },
    },
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
    anyOfOther,
    anyOfChoice,
    lockedComponent,
    lockedTarget,
  },
} as const;
