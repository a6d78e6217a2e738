/**
 * A user error raised by the CLI shell itself (bad flags) without loading the library: it has
 * RumpkgError's shape (name, code, hint, exitCode, toJSON), which is how cli/main.ts recognises
 * typed errors. Library code throws the real RumpkgError from components/.
 */
export class CliError extends Error {
  override readonly name = 'RumpkgError';
  readonly code: string;
  readonly hint: string | undefined;
  readonly context: Record<string, unknown>;
  readonly exitCode: number;

  constructor(code: string, message: string, options: { hint?: string; context?: Record<string, unknown> } = {}) {
    super(message);
    this.code = code;
    this.hint = options.hint;
    this.context = options.context ?? {};
    this.exitCode = code === 'E_USAGE' ? 2 : 1;
  }

  toJSON(): { code: string; message: string; hint?: string; context: Record<string, unknown> } {
    return { code: this.code, message: this.message, ...(this.hint === undefined ? {} : { hint: this.hint }), context: this.context };
  }
}
