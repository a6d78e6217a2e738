/**
 * Rendering for the CLI: human text on stdout, `--json` documents on stdout (nothing else
 * there), notes, warnings and progress on stderr. Honours NO_COLOR and only draws progress when
 * stderr is a terminal. Library code never prints; it reports through the `Reporter` made here.
 */
import type { Command } from 'commander';

export interface GlobalOptions {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  cwd: string;
}

/** The global options of the program, as seen from any (sub)command. */
export function globalOptions(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals() as Partial<GlobalOptions>;
  return {
    json: o.json === true,
    quiet: o.quiet === true,
    verbose: o.verbose === true,
    cwd: typeof o.cwd === 'string' ? o.cwd : process.cwd(),
  };
}

/**
 * Whether to colour a stream: only a terminal, and not when NO_COLOR is set to a non-empty value
 * (no-color.org: an empty NO_COLOR does not disable colour) or FORCE_COLOR is `0`.
 */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.NO_COLOR ?? '') === '' && env.FORCE_COLOR !== '0' && stream.isTTY === true;
}

const useColor = (): boolean => colorEnabled(process.stdout);

const paint = (code: string) => (s: string): string => (useColor() ? `\u001b[${code}m${s}\u001b[0m` : s);
export const bold = paint('1');
export const dim = paint('2');
export const red = paint('31');
export const green = paint('32');
export const yellow = paint('33');

/** Writes one line of human output to stdout. */
export function print(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Writes a JSON document to stdout (stable 2-space form). */
export function printJson(value: unknown): void {
  process.stdout.write(jsonText(value));
}

/** The text printJson writes. */
export function jsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** A note or warning on stderr (suppressed by --quiet for notes). */
export function note(g: GlobalOptions, message: string): void {
  if (!g.quiet) process.stderr.write(`${dim('note:')} ${message}\n`);
}
export function warn(message: string): void {
  const c = colorEnabled(process.stderr);
  process.stderr.write(`${c ? '\u001b[33mwarning:\u001b[0m' : 'warning:'} ${message}\n`);
}

/** Progress events library code emits; the CLI decides whether and how to show them. */
export interface Reporter {
  progress(label: string, done: number, total: number): void;
  info(message: string): void;
  warn(message: string): void;
}

export function createReporter(g: GlobalOptions): Reporter {
  const tty = process.stderr.isTTY === true && !g.quiet && !g.json;
  let last = 0;
  return {
    progress(label, done, total) {
      if (!tty) return;
      const now = Date.now();
      if (done < total && now - last < 80) return;
      last = now;
      process.stderr.write(`\r\u001b[2K${label} ${done}/${total}${done >= total ? '\n' : ''}`);
    },
    info(message) {
      if (g.verbose && !g.json) process.stderr.write(`${message}\n`);
    },
    warn(message) {
      warn(message);
    },
  };
}

/** Left-aligned columns for human tables. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, stripAnsi(c).length)));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat((widths[i] ?? 0) - stripAnsi(c).length))).join('  '))
    .join('\n');
}

function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;]*m/g, '');
}
