// Makes this machine ready for the demo (`npm run setup`; `npm run demo` runs it first):
//   node scripts/setup.mjs [--check]
// Asks `rumpkg doctor --json` what the demo's targets (posix for this host, hw-x86_64,
// hw-riscv64) need. When something is missing: as root on Debian/Ubuntu it runs `apt-get update`
// and `apt-get install` of exactly the packages doctor names; otherwise it prints the command to
// run and exits 1. `--check` only reports. Never prints a stack trace for a missing tool.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const bin = new URL('../dist/cli/bin.js', import.meta.url);
const checkOnly = process.argv.includes('--check');
const say = (line) => process.stderr.write(`setup: ${line}\n`);

if (!existsSync(bin)) {
  say('dist/ is missing; run `npm ci` (or `npm run build`) first');
  process.exit(1);
}

const hostTarget = process.arch === 'arm64' ? 'posix-aarch64' : 'posix-x86_64';
const TARGETS = [hostTarget, 'hw-x86_64', 'hw-riscv64'];

function doctor() {
  const r = spawnSync(process.execPath, [bin.pathname, '--json', 'doctor', '--offline', ...TARGETS.flatMap((t) => ['--target', t])], { encoding: 'utf8' });
  try {
    return JSON.parse(r.stdout);
  } catch {
    say(`rumpkg doctor did not answer (exit ${r.status}):\n${r.stderr}`);
    process.exit(1);
  }
}

function describe(report) {
  for (const t of report.targets) {
    const missing = t.tools.filter((x) => x.path === null).map((x) => `${x.command} (${x.debianPackage})`);
    say(`${t.target}: ${t.ready ? 'ready' : `missing ${missing.join(', ') || t.problem}`}`);
  }
  if (!report.home.ok) say(`home ${report.home.path}: ${report.home.detail}`);
}

let report = doctor();
if (report.ready) {
  say(`ready: ${TARGETS.join(', ')} (toolchains and QEMU installed)`);
  process.exit(0);
}
describe(report);
const packages = report.missingPackages;
if (packages.length === 0) {
  say('nothing to install can fix this; see `rumpkg doctor`');
  process.exit(1);
}
const install = `apt-get install -y --no-install-recommends ${packages.join(' ')}`;
const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
if (checkOnly || process.getuid?.() !== 0 || !hasApt) {
  if (!hasApt) say(`install these packages with your system's package manager: ${packages.join(' ')}`);
  else say(`run this, then run the demo again:\n\n  sudo apt-get update && sudo ${install}\n`);
  process.exit(1);
}

say(`installing ${packages.join(' ')} with apt-get (as root)`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
for (const argv of [['update'], install.split(' ').slice(1)]) {
  const r = spawnSync('apt-get', argv, { stdio: ['ignore', 'inherit', 'inherit'], env });
  if (r.status !== 0) {
    say(`apt-get ${argv[0]} failed (exit ${r.status}); run it yourself: apt-get update && ${install}`);
    process.exit(1);
  }
}
report = doctor();
describe(report);
if (!report.ready) {
  say('still not ready after installing; see `rumpkg doctor`');
  process.exit(1);
}
say('ready');
