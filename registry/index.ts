// Public API of registry/: file registry, npm-protocol client and server, cache, GitHub upstream.
export {};
