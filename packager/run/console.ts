/**
 * A guest's serial console and QEMU's end, read for both boot conventions: the pure part of a
 * boot — console text in; the text to pass on, whether the guest reached its last line, and the
 * run's outcome out. The CLI's boots (run.ts: rumpkg's glue on the miniature platforms;
 * rumprun-boot.ts: the rumprun convention) and the launcher's early run (early-qemu.ts, which
 * finishes a `rumpkg run` without loading the CLI) read the console through these same sessions,
 * so both pass on the same bytes and end with the same status or the same error.
 *
 * - glue (`openConsole({ convention: 'glue', … })`): everything before the platform package's
 *   first line (`rumpkg: <target> platform up`), the firmware banner, is held back unless
 *   `verbose` (and kept as `firmware`); CR LF becomes LF; the guest's status is decoded from
 *   QEMU's exit code (`decodeExit`: x86_64 isa-debug-exit (status << 1) | 1, riscv64 SiFive test
 *   finisher).
 * - rumprun: the line reader below (`createRumprunConsole`); the platform never powers off, so the
 *   session turns `terminal` on the line after which QEMU is to be stopped (rumprun-boot.ts says
 *   which lines mean what).
 * An outcome that is not a status is a message, a hint and a context, which the caller turns
 * into E_RUN.
 *
 * No imports: bundled into the launcher's early bundle (node builtins only, scripts/bundle.mjs).
 */

/** How a boot reads its console: what `openConsole` needs, and what the early run's memo records. */
export type ConsoleSpec =
  | { convention: 'glue'; image: string; target: string; arch: 'x86_64' | 'riscv64'; emulator: string[]; timeoutMs: number; verbose: boolean }
  | { convention: 'rumprun'; image: string; target: string; emulator: string[]; timeoutMs: number; drives: string[] };

/** How QEMU ended (qemu-process.ts superviseQemu). */
export interface QemuEndFacts {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Killed at the deadline. */
  timedOut: boolean;
  /** Its stderr (the first 64 KiB). */
  stderr: string;
}

/** Milliseconds from spawning QEMU to each event the console showed, and to QEMU's end. */
export interface ConsoleTimings {
  platformUpMs: number | null;
  exitMs: number;
  mainMs?: number | null;
  appOutputMs?: number | null;
  haltMs?: number | null;
}

export type ConsoleOutcome =
  | { ok: true; status: number; timings: ConsoleTimings; firmware?: string }
  | { ok: false; message: string; hint: string; context: Record<string, unknown> };

export interface ConsoleSession {
  /** Console text (latin1-decoded bytes) that arrived `ms` after QEMU was spawned; returns the text to pass on. */
  data(text: string, ms: number): string;
  /** The guest reached its last line: QEMU is to be stopped, and later text is ignored. */
  readonly terminal: boolean;
  /** QEMU has ended: what is left to pass on, and the outcome. */
  end(q: QemuEndFacts, ms: number): { rest: string; outcome: ConsoleOutcome };
}

/** x86_64 isa-debug-exit: (status << 1) | 1, so only odd codes come from the guest (0 = reset or triple fault); riscv64 SiFive test finisher: 0x5555 → 0, (status << 16) | 0x3333 → status. */
export function decodeExit(arch: 'x86_64' | 'riscv64', code: number): number | null {
  return arch === 'x86_64' ? (code % 2 === 1 ? code >> 1 : null) : code;
}

export function openConsole(spec: ConsoleSpec): ConsoleSession {
  return spec.convention === 'glue' ? glueConsole(spec) : rumprunSession(spec);
}

function glueConsole(spec: Extract<ConsoleSpec, { convention: 'glue' }>): ConsoleSession {
  const { image, target, emulator, timeoutMs } = spec;
  const marker = `rumpkg: ${target} platform up`;
  let firmware = '';
  let up = spec.verbose;
  let platformUpMs: number | null = null;
  let pending = ''; // console text not yet passed on (before the marker; or a trailing CR)
  return {
    terminal: false,
    data(text, ms) {
      pending += text;
      if (platformUpMs === null) {
        const i = pending.indexOf(marker);
        if (i < 0) {
          if (!up) return '';
          const keep = pending.endsWith('\r') ? 1 : 0;
          const out = pending.slice(0, pending.length - keep);
          firmware += out;
          pending = pending.slice(pending.length - keep);
          return out.replace(/\r\n/g, '\n');
        }
        platformUpMs = ms;
        if (!up) {
          firmware += pending.slice(0, i);
          pending = pending.slice(i);
        }
        up = true;
      }
      const keep = pending.endsWith('\r') ? 1 : 0;
      const out = pending.slice(0, pending.length - keep).replace(/\r\n/g, '\n');
      pending = pending.slice(pending.length - keep);
      return out;
    },
    end({ code, signal, timedOut, stderr }, exitMs) {
      const rest = pending.replace(/\r\n/g, '\n');
      const context = { path: image, target, emulator, exitCode: code, signal, stderr: stderr.slice(0, 4000) };
      const fail = (message: string, hint: string, ctx: Record<string, unknown> = context): { rest: string; outcome: ConsoleOutcome } => ({ rest, outcome: { ok: false, message, hint, context: ctx } });
      if (timedOut) {
        return fail(
          `the ${target} guest ${image} did not power off within ${timeoutMs / 1000} s; QEMU was killed`,
          platformUpMs === null ? 'the platform never printed its first line: the image does not boot (wrong platform package?)' : 'the application hangs, or needs more time: raise --timeout',
          { ...context, timeoutMs, platformUp: platformUpMs !== null },
        );
      }
      if (platformUpMs === null) {
        const why = stderr.trim().split('\n')[0] ?? '';
        return fail(`the ${target} guest ${image} never started${why === '' ? '' : `: ${why}`} (QEMU exit ${code ?? signal})`, 'check that the image was built for this target with its platform package (rumpkg build --target …)');
      }
      const status = code === null ? null : decodeExit(spec.arch, code);
      if (status === null) {
        return fail(`the ${target} guest ${image} stopped without powering off (QEMU exit ${code ?? signal}: reset or triple fault)`, 'the guest crashed; run with --verbose to see the whole console');
      }
      return { rest, outcome: { ok: true, status, firmware: firmware.replace(/\r\n/g, '\n'), timings: { platformUpMs, exitMs } } };
    },
  };
}

/** What a rumprun console said so far. */
export interface RumprunConsoleState {
  platformUp: boolean;
  /** Programs whose main() was called, in order. */
  called: string[];
  /** Last `main() … returned N`. */
  returned: number | null;
  /** The `_exit` status. */
  exit: number | null;
  panic: string | null;
  trap: string | null;
  bootstrapFailed: boolean;
  /** The last line the platform's configuration printed (`rumprun: …`), for failures. */
  lastPlatformError: string | null;
  halted: boolean;
}

/** Events a line can signal (for timings). */
type ConsoleEvent = 'platform-up' | 'main-called' | 'app-output' | 'terminal' | null;

/** A line reader over a rumprun console (rumprun-boot.ts lists the lines). Pure. */
export function createRumprunConsole(): { state: RumprunConsoleState; line(text: string): ConsoleEvent } {
  const state: RumprunConsoleState = { platformUp: false, called: [], returned: null, exit: null, panic: null, trap: null, bootstrapFailed: false, lastPlatformError: null, halted: false };
  let inApp = false;
  let sawAppOutput = false;
  return {
    state,
    line(text: string): ConsoleEvent {
      const l = text.replace(/\r$/, '');
      if (!state.platformUp && l === 'rump kernel bare metal bootstrap') {
        state.platformUp = true;
        return 'platform-up';
      }
      let m: RegExpExecArray | null;
      if ((m = /^=== calling "(.*)" main\(\) ===$/.exec(l)) !== null) {
        state.called.push(m[1]!);
        inApp = true;
        return 'main-called';
      }
      if ((m = /^=== main\(\) of ".*" returned (-?\d+) ===$/.exec(l)) !== null) {
        state.returned = Number(m[1]);
        inApp = false;
        return null;
      }
      if ((m = /^=== (?:ERROR: )?_exit\((-?\d+)\) called ===$/.exec(l)) !== null) {
        state.exit = Number(m[1]);
        inApp = false;
        return null;
      }
      if (l.startsWith('=== bootstrap failed')) {
        state.bootstrapFailed = true;
        return null;
      }
      if (l.startsWith('rumprun: ')) state.lastPlatformError = l;
      if ((m = /^(?:panic|PANIC): (.*)$/.exec(l)) !== null) {
        state.panic ??= m[1]!;
        return null;
      }
      if (l.startsWith('FATAL TRAP:')) {
        state.trap = l;
        return 'terminal';
      }
      if (l === 'halted') {
        state.halted = true;
        return 'terminal';
      }
      if (inApp && !sawAppOutput && l !== '') {
        sawAppOutput = true;
        return 'app-output';
      }
      return null;
    },
  };
}

function rumprunSession(spec: Extract<ConsoleSpec, { convention: 'rumprun' }>): ConsoleSession {
  const { image, target, emulator, timeoutMs } = spec;
  const con = createRumprunConsole();
  const marks: { platformUpMs: number | null; mainMs: number | null; appOutputMs: number | null; haltMs: number | null } = { platformUpMs: null, mainMs: null, appOutputMs: null, haltMs: null };
  let pending = '';
  let terminal = false;
  return {
    get terminal() {
      return terminal;
    },
    data(text, ms) {
      if (terminal) return '';
      pending += text;
      let out = '';
      let nl: number;
      while (!terminal && (nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl + 1).replace(/\r?\n$/, '');
        pending = pending.slice(nl + 1);
        out += `${line}\n`;
        const ev = con.line(line);
        if (ev === 'platform-up') marks.platformUpMs = ms;
        else if (ev === 'main-called') marks.mainMs ??= ms;
        else if (ev === 'app-output') marks.appOutputMs ??= ms;
        else if (ev === 'terminal') {
          marks.haltMs = ms;
          terminal = true;
        }
      }
      return out;
    },
    end({ code, signal, timedOut, stderr }, exitMs) {
      const rest = !terminal ? pending.replace(/\r\n/g, '\n') : '';
      const s = con.state;
      const context = { path: image, target, emulator, exitCode: code, signal, stderr: stderr.slice(0, 4000), console: s };
      const fail = (message: string, hint: string): { rest: string; outcome: ConsoleOutcome } => ({ rest, outcome: { ok: false, message, hint, context } });
      if (s.trap !== null) return fail(`the ${target} guest ${image} stopped on a CPU exception: ${s.trap}`, 'the application or a driver dereferenced a bad pointer; see the console above');
      if (s.panic !== null) return fail(`the ${target} guest ${image} panicked: ${s.panic}`, 'a kernel component the configuration needs may be missing from the closure (rumpkg tree); see the console above');
      if (s.bootstrapFailed) return fail(`the ${target} guest ${image} failed to start its program${s.lastPlatformError === null ? '' : `: ${s.lastPlatformError}`}`, 'the platform could not apply the image configuration (image.net / image.block in rumpkg.json); see the console above');
      if (timedOut) {
        return fail(
          `the ${target} guest ${image} did not halt within ${timeoutMs / 1000} s; QEMU was killed`,
          !s.platformUp ? 'the platform never printed its first line: the image does not boot (wrong platform package?)' : s.called.length === 0 ? 'the kernel never started the program (a driver hangs at boot?)' : 'the application is still running (it serves forever?), or needs more time: raise --timeout',
        );
      }
      if (!s.halted) {
        const why = stderr.trim().split('\n')[0] ?? '';
        const port = /hostfwd=(tcp|udp):[^:]*:(\d+)/.exec(why);
        return fail(
          `the ${target} guest ${image} ended before the kernel halted${why === '' ? '' : `: ${why}`} (QEMU exit ${code ?? signal})`,
          port !== null || /host forwarding/.test(why) ? `a forwarded host port is in use (image.forward in rumpkg.json${port === null ? '' : `: ${port[1]} ${port[2]}`})` : 'see QEMU\'s message in the error context (--json)',
        );
      }
      const status = s.exit ?? s.returned;
      if (status === null) return fail(`the ${target} guest ${image} halted without running its program`, 'see the console above');
      return { rest, outcome: { ok: true, status, timings: { ...marks, exitMs } } };
    },
  };
}
