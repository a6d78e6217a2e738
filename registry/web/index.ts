// Public API of registry/web/: the registry's web UI (README.md).
export {};
export * from './html.js';
export * from './catalog.js';
export * from './pages.js';
export * from './handler.js';
