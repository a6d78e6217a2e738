// packager/scaffold: `rumpkg new component` — a component directory (manifest, C source following
// the rump conventions, build.sh per target) that validates, packs and publishes as written.
export * from './scaffold.js';
