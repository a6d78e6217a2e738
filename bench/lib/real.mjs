// The real NetBSD rump kernel archives of ../shared/netbsd/real for benches: scripts/real (built
// to dist/scripts/real), the same unpacker the tests use, so tests and benches share one
// unpacked copy (`tar xJf` once into `<tmpdir>/rumpkg-real-<sha256[:16]>/`).
//
//   const set = realSet('posix');
//   if (!set.available) { skip('rumpkg import vs nm (real posix archives)', set.skipReason); }
//   else { const top = await set.dir(); … }
export { REAL_DIR, REAL_SETS, realSet } from '../../dist/scripts/real/index.js';
