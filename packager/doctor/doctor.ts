/**
 * `rumpkg doctor`: what is ready on this machine, per target, and what to install otherwise.
 *
 * For each target: the toolchain that builds its images (build/toolchain.ts: every tool looked
 * up on PATH, with the Debian package that provides it) and what runs them (posix: the host;
 * hw: the QEMU of run/run.ts). Then the rumpkg home (writable?) and every registry the
 * configuration and the project pin (file: the directory is there or can be made; http(s):
 * `GET /-/ping` answers). The report is data; the CLI renders it. The Debian packages of every
 * missing tool are collected into one `apt-get install` line (a Debian/Ubuntu machine is what
 * the README assumes; the packages are named in the report for any other system).
 */
import { constants } from 'node:fs';
import { access, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isRumpkgError, readProjectManifest, type Target } from '../../components/index.js';
import { DEFAULT_LIMITS, effectiveRegistries, readConfig, redactUrl, registryRequest, resolveHome } from '../../registry/index.js';
import { findProgram, hostArch, parseTarget, selectToolchain } from '../build/index.js';
import { planQemu } from '../run/index.js';

/** One program a target needs. */
export interface DoctorTool {
  /** What it is for: `cc`, `ld`, `objcopy` (building) or `emulator` (running). */
  role: string;
  command: string;
  /** Where it was found on PATH, or null when missing. */
  path: string | null;
  debianPackage: string;
}

export interface DoctorTarget {
  target: Target;
  /** Everything needed to build and run images for the target is there. */
  ready: boolean;
  tools: DoctorTool[];
  /** How images run: on the host (posix) or under an emulator (hw). */
  runs: 'host' | 'emulator' | 'not supported';
  /** Why the target cannot be served at all (no toolchain or emulator rumpkg knows), if so. */
  problem?: string;
  /** Debian packages that would make it ready. */
  missingPackages: string[];
}

export interface DoctorRegistry {
  scope: string;
  /** Redacted URL. */
  url: string;
  ok: boolean;
  detail: string;
}

export interface DoctorReport {
  ready: boolean;
  node: string;
  home: { path: string; ok: boolean; detail: string };
  registries: DoctorRegistry[];
  targets: DoctorTarget[];
  /** Debian packages of every missing tool, sorted. */
  missingPackages: string[];
  /** The command that installs them (null when nothing is missing). */
  install: string | null;
}

interface DoctorOptions {
  /** Where the command runs (its rumpkg.json targets and registries count). */
  cwd: string;
  /** Targets to check (default: the project's, else every target rumpkg builds and runs here). */
  targets?: Target[];
  /** PATH to look programs up on (default process.env.PATH). */
  path?: string;
  env?: NodeJS.ProcessEnv;
  /** Ask http(s) registries whether they answer (default true). */
  network?: boolean;
  /** Deadline of each registry ping in ms (default 3000). */
  pingTimeoutMs?: number;
}

/** Targets checked when the caller names none and the directory holds no project. */
export function defaultDoctorTargets(arch = hostArch()): Target[] {
  return [...(arch === null ? [] : [`posix-${arch}`]), 'hw-x86_64', 'hw-riscv64'];
}

function checkTarget(target: Target, path: string | undefined): DoctorTarget {
  const tools: DoctorTool[] = [];
  const found = (command: string): string | null => findProgram(command, path);
  let toolchain;
  try {
    parseTarget(target);
    toolchain = selectToolchain(target);
  } catch (e) {
    if (!isRumpkgError(e)) throw e;
    return { target, ready: false, tools, runs: 'not supported', problem: e.message, missingPackages: [] };
  }
  for (const [role, spec] of Object.entries(toolchain.tools)) {
    if (spec === undefined) continue;
    tools.push({ role, command: spec.command, path: found(spec.command), debianPackage: spec.debianPackage });
  }
  let runs: DoctorTarget['runs'] = 'host';
  let problem: string | undefined;
  if (!parseTarget(target).hosted) {
    try {
      const plan = planQemu('image', target);
      const command = plan.command[0] as string;
      tools.push({ role: 'emulator', command, path: found(command), debianPackage: plan.debianPackage });
      runs = 'emulator';
    } catch (e) {
      if (!isRumpkgError(e)) throw e;
      runs = 'not supported';
      problem = `images for ${target} can be built but not run here: ${e.message}`;
    }
  }
  const missingPackages = [...new Set(tools.filter((t) => t.path === null).map((t) => t.debianPackage))].sort();
  return { target, ready: missingPackages.length === 0 && problem === undefined, tools, runs, ...(problem === undefined ? {} : { problem }), missingPackages };
}

/** The nearest existing directory at or above `dir`. */
async function nearestExisting(dir: string): Promise<string> {
  let d = dir;
  while (!(await stat(d).then(() => true, () => false)) && dirname(d) !== d) d = dirname(d);
  return d;
}

/**
 * Whether the home can be written: a probe file is created and removed in it; a home that does
 * not exist yet is not created (doctor changes nothing), its nearest existing parent must be writable.
 */
async function checkHome(home: string): Promise<DoctorReport['home']> {
  const fix = 'set RUMPKG_HOME to a directory you can write';
  if (!(await stat(home).then((s) => s.isDirectory(), () => false))) {
    const parent = await nearestExisting(home);
    const writable = await access(parent, constants.W_OK).then(() => true, () => false);
    return { path: home, ok: writable, detail: writable ? 'not made yet (the first command makes it)' : `cannot be made: ${parent} is not writable; ${fix}` };
  }
  try {
    const probe = join(home, `.doctor-${process.pid}`);
    await writeFile(probe, 'ok');
    await rm(probe, { force: true });
    return { path: home, ok: true, detail: 'writable' };
  } catch (e) {
    return { path: home, ok: false, detail: `not writable (${(e as NodeJS.ErrnoException).code ?? 'error'}); ${fix}` };
  }
}

async function checkRegistry(scope: string, url: string, options: DoctorOptions): Promise<DoctorRegistry> {
  const shown = url.startsWith('file:') ? url : redactUrl(url);
  if (url.startsWith('file:')) {
    const dir = fileURLToPath(url);
    const isDir = await stat(dir).then((s) => s.isDirectory(), () => undefined);
    if (isDir === true) {
      const readable = await access(dir, constants.R_OK).then(() => true, () => false);
      return { scope, url: shown, ok: readable, detail: readable ? `directory ${dir}` : `directory ${dir} is not readable` };
    }
    if (isDir === false) return { scope, url: shown, ok: false, detail: `${dir} is not a directory` };
    // Not there yet: fine when it can be created (the embedded registry starts empty).
    const parent = await nearestExisting(dir);
    const writable = await access(parent, constants.W_OK).then(() => true, () => false);
    return { scope, url: shown, ok: writable, detail: writable ? `empty (${dir} is made on the first publish)` : `${dir} does not exist and ${parent} is not writable` };
  }
  if (options.network === false) return { scope, url: shown, ok: true, detail: 'not asked (--offline)' };
  try {
    await registryRequest({
      method: 'GET',
      url: new URL('-/ping', url).href,
      registry: url,
      what: 'ping',
      limits: { ...DEFAULT_LIMITS, retries: 0, timeoutMs: options.pingTimeoutMs ?? 3000 },
    });
    return { scope, url: shown, ok: true, detail: 'answers /-/ping' };
  } catch (e) {
    if (!isRumpkgError(e)) throw e;
    return { scope, url: shown, ok: false, detail: `does not answer: ${e.message}` };
  }
}

/** The report (see the module head). Never throws for a missing tool or an unreachable registry. */
export async function diagnose(options: DoctorOptions): Promise<DoctorReport> {
  const env = options.env ?? process.env;
  const home = resolveHome(env);
  const homeCheck = await checkHome(home);
  let project: { targets: Target[]; registries: Record<string, string> } | undefined;
  try {
    const m = await readProjectManifest(join(options.cwd, 'rumpkg.json'));
    project = { targets: m.targets, registries: m.registries ?? {} };
  } catch (e) {
    if (!isRumpkgError(e)) throw e;
    project = undefined;
  }
  // The registries a command run here would use (read only: doctor creates nothing).
  let registries: Record<string, string> = {};
  const regChecks: DoctorRegistry[] = [];
  try {
    registries = effectiveRegistries(await readConfig(home), { ...(project === undefined ? {} : { project: project.registries }), projectDir: options.cwd });
  } catch (e) {
    if (!isRumpkgError(e)) throw e;
    regChecks.push({ scope: '*', url: '', ok: false, detail: `the registry configuration cannot be read: ${e.message}` });
  }
  const projectTargets = project?.targets;
  const targets = options.targets ?? projectTargets ?? defaultDoctorTargets();
  const targetChecks = targets.map((t) => checkTarget(t, options.path ?? env.PATH));
  for (const [scope, url] of Object.entries(registries).sort(([a], [b]) => (a < b ? -1 : 1))) regChecks.push(await checkRegistry(scope, url, options));
  const missingPackages = [...new Set(targetChecks.flatMap((t) => t.missingPackages))].sort();
  return {
    ready: homeCheck.ok && regChecks.every((r) => r.ok) && targetChecks.every((t) => t.ready),
    node: process.version,
    home: homeCheck,
    registries: regChecks,
    targets: targetChecks,
    missingPackages,
    install: missingPackages.length === 0 ? null : `apt-get install -y --no-install-recommends ${missingPackages.join(' ')}`,
  };
}
