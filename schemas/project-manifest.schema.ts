/** `rumpkg.json`, the project manifest (DESIGN.md §4.2). */
import * as d from './common.js';
import { SCOPE_PATTERN, TARGET_PATTERN } from './patterns.js';

export const projectManifestSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'urn:rumpkg:schema:project-manifest:1',
  title: 'rumpkg project manifest (rumpkg.json)',
  description: 'A project: its targets, the components it asks for, the registries that serve each scope, and image settings.',
  type: 'object',
  additionalProperties: false,
  required: ['schemaVersion', 'name', 'targets'],
  properties: {
    schemaVersion: { const: 1, description: 'Version of the rumpkg.json format (1).' },
    name: { $ref: '#/$defs/name', description: 'Project name (used for the image and in lockfile edges).' },
    targets: {
      type: 'array',
      description: 'Targets the project builds for.',
      items: { $ref: '#/$defs/target' },
      minItems: 1,
      maxItems: 32,
      uniqueItems: true,
    },
    components: { $ref: '#/$defs/dependencyMap', description: 'Requested components for every target: name (bare or scoped) → semver range. Default {}.' },
    targetComponents: {
      type: 'object',
      description:
        "Components requested for some targets only (Cargo's `[target.'cfg'.dependencies]`): target → name → semver range. " +
        'Each target is one of `targets`; a name is requested either here or in `components`, never in both. Omitted when empty.',
      propertyNames: { type: 'string', pattern: TARGET_PATTERN, description: 'A target of the project, e.g. `hw-x86_64`.' },
      additionalProperties: { $ref: '#/$defs/dependencyMap' },
      maxProperties: 32,
    },
    registries: {
      type: 'object',
      description: 'Scope → registry URL (`file:…`, `http(s)://…`). Each scope is pinned to one registry. Default {}.',
      propertyNames: { type: 'string', pattern: SCOPE_PATTERN, maxLength: 214, description: 'A scope, e.g. `@rump`.' },
      additionalProperties: { type: 'string', minLength: 1, maxLength: 2048, pattern: '^(file:|https?://)' },
      maxProperties: 64,
    },
    image: {
      type: 'object',
      description: 'How images are linked and configured.',
      additionalProperties: false,
      properties: {
        entry: {
          type: 'array',
          description: 'Application objects/archives linked into the image, relative to the project.',
          items: { type: 'string', minLength: 1, maxLength: 1024 },
          maxItems: 1024,
        },
        sources: {
          type: 'array',
          description: 'Application C sources compiled for each target, relative to the project; `.h` files listed here are headers the sources include (staged with them, not compiled).',
          items: { type: 'string', minLength: 1, maxLength: 1024 },
          maxItems: 1024,
        },
        net: { type: 'array', description: 'Network interfaces configured at boot.', items: { $ref: '#/$defs/netConfig' }, maxItems: 32 },
        block: { type: 'array', description: 'Block devices attached at boot.', items: { $ref: '#/$defs/blockConfig' }, maxItems: 32 },
        cflags: {
          type: 'array',
          description: 'Extra compiler flags for `sources`.',
          items: { type: 'string', minLength: 1, maxLength: 256, pattern: '^-' },
          maxItems: 128,
        },
      },
    },
  },
  $defs: {
    name: d.name,
    range: d.range,
    dependencyMap: d.dependencyMap,
    target: d.target,
    netConfig: d.netConfig,
    blockConfig: d.blockConfig,
  },
} as const;
