// packager/project: the project flow — rumpkg.json + registries + the resolver → rumpkg.lock + store.
export * from './project.js';
