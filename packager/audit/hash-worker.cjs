// The SHA-256 of an open file, on a worker thread (packager/evidence.ts hashOpenFile): positioned
// reads of 1 MiB through the descriptor the main thread opened, so memory stays bounded and the
// hash overlaps the symbol work on the main thread. Plain CommonJS: a worker loads a file by path,
// and this one works unchanged from the sources (vitest) and from dist/.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { readSync } = require('node:fs');
const { createHash } = require('node:crypto');
try {
  const { fd, size } = workerData;
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(Math.max(1, Math.min(size, 1 << 20)));
  let pos = 0;
  while (pos < size) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
    if (n === 0) break;
    h.update(buf.subarray(0, n));
    pos += n;
  }
  parentPort.postMessage({ hex: h.digest('hex'), bytes: pos });
} catch (e) {
  parentPort.postMessage({ error: String((e && e.message) || e), code: e && e.code });
}
