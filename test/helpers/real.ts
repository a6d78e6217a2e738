/**
 * The real NetBSD archives of ../shared/netbsd/real for the tests: scripts/real (shared with the
 * benches) unpacks each set once per content; see its head.
 */
export { REAL_DIR, REAL_SETS, realSet, title, type RealSet } from '../../scripts/real/index.js';
