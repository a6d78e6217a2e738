/**
 * Whether process `pid` exists on this machine (signal 0: nothing is sent). A process owned by
 * another user answers EPERM and counts as alive. Used to reclaim locks, temp areas and build
 * directories that killed runs left behind — never to decide anything across machines.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
