// registry/client: the registry client — one facade (client.ts) over one backend per registry
// kind (file-backend.ts, http-backend.ts), and the resolver's provider over it (provider.ts).
export * from './client.js';
export { registryKind } from './backend.js';
export type { RegistryKind, ClientReporter } from './types.js';
export * from './provider.js';
export { suggestComponents, unknownComponentError } from './suggest.js';
