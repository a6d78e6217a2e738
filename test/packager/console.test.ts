/**
 * The console sessions (packager/run/console.ts) that the CLI's boots and the launcher's early run
 * share: the same console text gives the same text passed on and the same outcome, however the
 * bytes arrive (the launcher and the CLI read QEMU's pipe in different chunks).
 */
import { describe, expect, it } from 'vitest';
import { decodeExit, openConsole, type ConsoleSpec, type QemuEndFacts } from '../../packager/run/console.js';

const glue: ConsoleSpec = { convention: 'glue', image: '/p/img', target: 'hw-x86_64', arch: 'x86_64', emulator: ['qemu-system-x86_64'], timeoutMs: 30_000, verbose: false };
const rumprun: ConsoleSpec = { convention: 'rumprun', image: '/p/img', target: 'hw-x86_64', emulator: ['qemu-system-x86_64'], timeoutMs: 30_000, drives: [] };
const exited = (code: number): QemuEndFacts => ({ code, signal: null, timedOut: false, stderr: '' });

/** Feeds `text` in chunks of `size` bytes; what was passed on, whether it turned terminal, and the outcome. */
function read(spec: ConsoleSpec, text: string, size: number, end: QemuEndFacts): { out: string; terminal: boolean; outcome: unknown } {
  const s = openConsole(spec);
  let out = '';
  for (let i = 0; i < text.length && !s.terminal; i += size) out += s.data(text.slice(i, i + size), i);
  const terminal = s.terminal;
  const { rest, outcome } = s.end(end, 1000);
  const o = outcome as { timings?: unknown };
  delete o.timings; // when each event arrived depends on the chunks
  return { out: out + rest, terminal, outcome };
}

describe('console sessions', () => {
  it('glue: the firmware banner held back (kept as firmware), CR LF → LF, the status decoded, whatever the chunks', () => {
    const text = 'SeaBIOS (version 1.16)\r\nBooting from ROM..\r\nrumpkg: hw-x86_64 platform up\r\nhello\r\nbye\r';
    const whole = read(glue, text, text.length, exited(7));
    expect(whole.out).toBe('rumpkg: hw-x86_64 platform up\nhello\nbye\r');
    expect(whole.outcome).toEqual({ ok: true, status: 3, firmware: 'SeaBIOS (version 1.16)\nBooting from ROM..\n' });
    for (const size of [1, 2, 3, 7, 30]) expect(read(glue, text, size, exited(7)), String(size)).toEqual(whole);
    // --verbose passes the banner on too
    const verbose = read({ ...glue, verbose: true }, text, text.length, exited(7));
    expect(verbose.out).toBe(text.replace(/\r\n/g, '\n'));
    // an even code is no power-off (a reset or triple fault); a console without the platform's line never started
    expect(read(glue, text, 5, exited(0)).outcome).toMatchObject({ ok: false, message: expect.stringMatching(/stopped without powering off \(QEMU exit 0/) });
    expect(read(glue, 'SeaBIOS\r\n', 5, exited(1)).outcome).toMatchObject({ ok: false, message: expect.stringMatching(/never started/) });
    expect(read(glue, text, 5, { ...exited(0), code: null, signal: 'SIGKILL', timedOut: true }).outcome).toMatchObject({ ok: false, message: expect.stringMatching(/did not power off within 30 s/), context: { timeoutMs: 30_000, platformUp: true } });
    expect([decodeExit('x86_64', 1), decodeExit('x86_64', 7), decodeExit('x86_64', 2), decodeExit('riscv64', 5)]).toEqual([0, 3, null, 5]);
  });

  it('rumprun: lines passed on up to the terminal one, the _exit status, an error for a panic — whatever the chunks', () => {
    const text = 'rump kernel bare metal bootstrap\r\n=== calling "app" main() ===\r\nhello\r\n=== main() of "app" returned 2 ===\r\n=== _exit(2) called ===\r\nhalted\r\nafter\r\n';
    const whole = read(rumprun, text, text.length, { code: null, signal: 'SIGKILL', timedOut: false, stderr: '' });
    expect(whole.terminal).toBe(true);
    expect(whole.out).toBe(text.slice(0, text.indexOf('after')).replace(/\r\n/g, '\n'));
    expect(whole.outcome).toEqual({ ok: true, status: 2 });
    for (const size of [1, 2, 5, 13]) expect(read(rumprun, text, size, { code: null, signal: 'SIGKILL', timedOut: false, stderr: '' }), String(size)).toEqual(whole);
    const panic = 'rump kernel bare metal bootstrap\npanic: out of memory\nhalted\n';
    expect(read(rumprun, panic, 4, exited(0)).outcome).toMatchObject({ ok: false, message: 'the hw-x86_64 guest /p/img panicked: out of memory' });
    // QEMU gone before the halt, its console cut mid-line: the rest is passed on
    const cut = read(rumprun, 'rump kernel bare metal bootstrap\npartial', 3, { code: 1, signal: null, timedOut: false, stderr: 'qemu: could not set up host forwarding rule \'tcp:127.0.0.1:80-:80\'\n' });
    expect(cut.out).toBe('rump kernel bare metal bootstrap\npartial');
    expect(cut.outcome).toMatchObject({ ok: false, hint: expect.stringMatching(/forwarded host port is in use/) });
  });
});
