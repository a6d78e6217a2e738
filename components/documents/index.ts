// components/documents: the JSON documents rumpkg reads from outside — safe JSON, then one
// validated reader per format (component manifest, rumpkg.json, rumpkg.lock, image manifest).
export * from './json.js';
export * from './manifest.js';
