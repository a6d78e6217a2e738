/**
 * Test helpers around processes and their failures: the typed error a call must end with, a free
 * loopback port, and whether a process is still running.
 */
import { execFileSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { expect } from 'vitest';
import { isRumpkgError } from '../../components/index.js';

export type TypedError = Error & { code?: string; context?: Record<string, unknown>; hint?: string };

/** Awaits `p` (or calls it) and expects a RumpkgError with `code`; returns the error for more checks. */
export async function expectCode(p: Promise<unknown> | (() => unknown), code: string): Promise<TypedError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(isRumpkgError(e) ? e.code : e, String((e as Error).message)).toBe(code);
    return e as TypedError;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

/** A port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r, fail) => {
    s.once('error', fail);
    s.listen(0, '127.0.0.1', r);
  });
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** No process whose command line contains `needle` (pgrep -f). */
export function noProcess(needle: string): boolean {
  try {
    execFileSync('pgrep', ['-f', needle], { encoding: 'utf8' });
    return false;
  } catch (e) {
    return (e as { status?: number }).status === 1;
  }
}
