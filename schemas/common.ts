/**
 * Sub-schemas shared by several document schemas. Each document schema copies the ones it uses
 * into its own `$defs`, so every schema is self-contained (one `$id`, no cross-document refs).
 */
import {
  CAPABILITY_PATTERN,
  GIT_OID_PATTERN,
  INIT_LEVELS,
  LIB_PATTERN,
  NAME_MAX_LENGTH,
  NAME_PATTERN,
  RANGE_MAX_LENGTH,
  RELATIVE_PATH_PATTERN,
  SHA256_SRI_PATTERN,
  SHA512_SRI_PATTERN,
  TARGET_PATTERN,
  VERSION_PATTERN,
} from './patterns.js';

export const name = {
  type: 'string',
  description: 'A component name: `@scope/name` or a bare word, lowercase, at most 214 characters.',
  minLength: 1,
  maxLength: NAME_MAX_LENGTH,
  pattern: NAME_PATTERN,
} as const;

export const version = {
  type: 'string',
  description: 'An exact semver 2.0.0 version, e.g. `10.0.0`.',
  maxLength: RANGE_MAX_LENGTH,
  pattern: VERSION_PATTERN,
} as const;

export const range = {
  type: 'string',
  description: 'A semver range, e.g. `^10.0.0` (at most 256 characters; checked semantically as well).',
  maxLength: RANGE_MAX_LENGTH,
} as const;

export const dependencyMap = {
  type: 'object',
  description: 'Component name → semver range.',
  propertyNames: { $ref: '#/$defs/name' },
  additionalProperties: { $ref: '#/$defs/range' },
  maxProperties: 1024,
} as const;

export const target = {
  type: 'string',
  description: 'A target `<platform>-<arch>`, e.g. `posix-x86_64`.',
  pattern: TARGET_PATTERN,
} as const;

export const capability = {
  type: 'string',
  description: 'A capability: `hypercall:17`, `bus:pci`, `pci-backend`.',
  maxLength: 128,
  pattern: CAPABILITY_PATTERN,
} as const;

export const initLevel = {
  type: 'string',
  description: 'A rump init level (netbsd initLevelRunOrder).',
  enum: [...INIT_LEVELS],
} as const;

export const relativePath = {
  type: 'string',
  description: 'A relative path with `/` separators, no `.`/`..` segments and no leading dot.',
  minLength: 1,
  maxLength: 1024,
  pattern: RELATIVE_PATH_PATTERN,
} as const;

export const lib = {
  type: 'string',
  description: 'A NetBSD library name, e.g. `librumpnet_netinet`.',
  maxLength: 128,
  pattern: LIB_PATTERN,
} as const;

export const kind = {
  type: 'string',
  description: '`component` for drivers and factions; `platform` for a platform package (orchestration layer).',
  enum: ['component', 'platform'],
} as const;

export const integrity = {
  type: 'string',
  description: 'SRI sha512 integrity of the component tarball.',
  pattern: SHA512_SRI_PATTERN,
} as const;

export const license = {
  type: 'string',
  description: 'An SPDX licence expression, e.g. `BSD-2-Clause`.',
  minLength: 1,
  maxLength: 256,
} as const;

export const symbolEvidence = {
  type: 'object',
  description: 'Symbol evidence recorded at pack/publish time (used by audit).',
  additionalProperties: false,
  required: ['defined', 'digest'],
  properties: {
    defined: { type: 'integer', minimum: 0, description: 'Number of global symbols the archive defines.' },
    digest: {
      type: 'string',
      pattern: SHA256_SRI_PATTERN,
      description: '`sha256-<base64>` over the sorted, newline-joined defined global symbol names.',
    },
    linkSet: {
      type: 'array',
      description: 'Init levels of the `link_set_rump_components` entries the archive carries.',
      items: { $ref: '#/$defs/initLevel' },
      maxItems: 64,
    },
    constructors: {
      type: 'array',
      description: 'Init levels of the components the archive registers through constructors (`.init_array` → `rump_component_load`).',
      items: { $ref: '#/$defs/initLevel' },
      maxItems: 64,
    },
  },
} as const;

export const upstream = {
  type: 'object',
  description: 'Where the sources come from (provenance), so "unmodified" can be verified later.',
  additionalProperties: false,
  required: ['project', 'repository', 'path'],
  properties: {
    project: { type: 'string', minLength: 1, maxLength: 64, description: 'Upstream project, e.g. `NetBSD`.' },
    repository: {
      type: 'string',
      pattern: '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$',
      maxLength: 200,
      description: 'GitHub `owner/name` of the upstream repository, e.g. `NetBSD/src`.',
    },
    ref: {
      type: 'string',
      minLength: 1,
      maxLength: 200,
      pattern: '^[A-Za-z0-9._/-]+$',
      description: 'Branch or tag the sources were taken from, e.g. `netbsd-10-0-RELEASE`; absent when unknown (an import without --upstream-ref).',
    },
    commit: { type: 'string', pattern: GIT_OID_PATTERN, description: 'The upstream commit id (hex).' },
    path: { $ref: '#/$defs/relativePath', description: 'The component directory inside the upstream tree.' },
    files: {
      type: 'object',
      description: 'Upstream path → git blob id (hex) of every source file the component is built from.',
      propertyNames: { $ref: '#/$defs/relativePath' },
      additionalProperties: { type: 'string', pattern: GIT_OID_PATTERN },
      maxProperties: 100000,
    },
  },
} as const;

export const netConfig = {
  type: 'object',
  description: 'One network interface the glue configures at boot.',
  additionalProperties: false,
  required: ['if', 'type', 'method'],
  properties: {
    if: { type: 'string', pattern: '^[a-z][a-z0-9]*[0-9]+$', maxLength: 16, description: 'Interface name, e.g. `vioif0`.' },
    type: { type: 'string', enum: ['inet', 'inet6'], description: 'Address family.' },
    method: { type: 'string', enum: ['dhcp', 'static'], description: '`dhcp` or a `static` address.' },
    addr: { type: 'string', maxLength: 64, pattern: '^[0-9A-Fa-f.:]+$', description: 'Static address (method `static`).' },
    mask: { type: 'string', maxLength: 64, pattern: '^[0-9A-Fa-f.:/]+$', description: 'Netmask or prefix length.' },
    gw: { type: 'string', maxLength: 64, pattern: '^[0-9A-Fa-f.:]+$', description: 'Default gateway.' },
    linkstr: {
      type: 'string',
      minLength: 1,
      maxLength: 1024,
      pattern: '^[^\\u0000]+$',
      description: 'The link of a cloned interface, set before it is addressed and brought up: for `shmif0` the bus file shared by the rump kernels of one segment (relative to the working directory).',
    },
  },
} as const;

export const blockConfig = {
  type: 'object',
  description: 'One block device the glue attaches at boot.',
  additionalProperties: false,
  required: ['source', 'path'],
  properties: {
    source: { type: 'string', minLength: 1, maxLength: 1024, description: 'Host file or device.' },
    path: { type: 'string', minLength: 1, maxLength: 1024, pattern: '^/', description: 'Where it appears in the rump kernel, e.g. `/dev/ld0a`.' },
    fstype: { type: 'string', pattern: '^[a-z0-9]+$', maxLength: 32, description: 'File system type, e.g. `ffs`.' },
    mountpoint: { type: 'string', pattern: '^/', maxLength: 1024, description: 'Mount point inside the rump kernel.' },
  },
} as const;

export const initStep = {
  type: 'object',
  description: 'One step of the init order.',
  additionalProperties: false,
  required: ['level', 'component', 'lib'],
  properties: {
    level: { $ref: '#/$defs/initLevel', description: 'The init level.' },
    component: { $ref: '#/$defs/name', description: 'The component whose `struct rump_component` runs.' },
    lib: { $ref: '#/$defs/lib', description: 'Its NetBSD library name.' },
  },
} as const;
