// rumpkg's own files behind this process, for the memos of the launcher's early starts
// (packager/early): another rumpkg — a rebuilt or upgraded one — may decide otherwise.
import { dirname, join } from 'node:path';

/** The launcher (dist/rumpkg.cjs), the bundle and the early bundle `early` (e.g. rumpkg-early-run.cjs) it loads. */
export function launcherFiles(early: string): string[] {
  const launcher = process.argv[1];
  if (launcher === undefined) return [];
  const dir = dirname(launcher);
  return [launcher, join(dir, 'rumpkg-bundle.cjs'), join(dir, early)];
}
