/**
 * Test-only preload for CLI children (`NODE_OPTIONS=--require <this file>`): every file-system
 * mutation the process makes — creating, writing, syncing, linking, renaming, removing — is a
 * numbered kill point. With RUMPKG_KILL_AT=N the process SIGKILLs itself right before mutation N
 * (so mutations 1..N-1 happened); with RUMPKG_KILL_LOG=FILE it writes the list of mutations
 * there when it exits. This is how test/reliability/crash.test.ts kills `rumpkg publish` before
 * every single one of its writes, deterministically, instead of at timed delays.
 */
'use strict';
const fs = require('node:fs');
const { syncBuiltinESMExports } = require('node:module');

const killAt = Number(process.env.RUMPKG_KILL_AT ?? 0);
const logFile = process.env.RUMPKG_KILL_LOG;
const writeFileSyncOriginal = fs.writeFileSync;
const log = [];
let n = 0;

function point(what, path) {
  n++;
  if (logFile !== undefined) log.push(`${n} ${what} ${String(path)}`);
  if (n === killAt) process.kill(process.pid, 'SIGKILL');
}

/** Does an fs open flag create or write? */
function writes(flags) {
  if (flags === undefined || flags === null) return false;
  if (typeof flags === 'number') return (flags & (fs.constants.O_WRONLY | fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_APPEND)) !== 0;
  return /[wax+]/.test(String(flags));
}

const PATH_MUTATIONS = ['writeFile', 'appendFile', 'rename', 'link', 'symlink', 'unlink', 'rm', 'rmdir', 'mkdir', 'copyFile', 'cp', 'truncate', 'chmod', 'utimes', 'mkdtemp'];

// fs/promises (and the same object as fs.promises)
const p = fs.promises;
for (const name of PATH_MUTATIONS) {
  const orig = p[name];
  if (typeof orig !== 'function') continue;
  p[name] = function (...args) {
    point(`promises.${name}`, args[0]);
    return orig.apply(this, args);
  };
}
const openOriginal = p.open;
p.open = async function (path, flags, mode) {
  const w = writes(flags);
  if (w) point('promises.open', path);
  const fh = await openOriginal.call(this, path, flags, mode);
  if (w) {
    for (const m of ['write', 'writeFile', 'writev', 'sync', 'datasync', 'truncate', 'appendFile']) {
      const orig = fh[m];
      if (typeof orig !== 'function') continue;
      fh[m] = function (...args) {
        point(`filehandle.${m}`, path);
        return orig.apply(this, args);
      };
    }
  } else {
    // fsync of a directory (opened read-only) is a durability point too.
    for (const m of ['sync', 'datasync']) {
      const orig = fh[m];
      fh[m] = function (...args) {
        point(`filehandle.${m}`, path);
        return orig.apply(this, args);
      };
    }
  }
  return fh;
};

// synchronous and callback forms
for (const name of PATH_MUTATIONS) {
  for (const form of [`${name}Sync`, name]) {
    const orig = fs[form];
    if (typeof orig !== 'function') continue;
    fs[form] = function (...args) {
      point(form, args[0]);
      return orig.apply(this, args);
    };
  }
}
for (const form of ['openSync', 'open']) {
  const orig = fs[form];
  fs[form] = function (path, flags, ...rest) {
    if (writes(flags)) point(form, path);
    return orig.call(this, path, flags, ...rest);
  };
}
for (const form of ['writeSync', 'write', 'fsyncSync', 'fsync', 'fdatasyncSync', 'fdatasync', 'ftruncateSync', 'ftruncate']) {
  const orig = fs[form];
  fs[form] = function (fd, ...rest) {
    point(form, `fd ${fd}`);
    return orig.call(this, fd, ...rest);
  };
}
syncBuiltinESMExports();

if (logFile !== undefined) {
  process.on('exit', () => {
    writeFileSyncOriginal(logFile, `${log.join('\n')}\n`);
  });
}
