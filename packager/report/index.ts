// Public API of packager/report/: pictures of what rumpkg knows (README.md).
export {};
export * from './graph.js';
export * from './dot.js';
export * from './mermaid.js';
export * from './svg.js';
export * from './project-graph.js';
export * from './treemap.js';
export * from './audit-html.js';
