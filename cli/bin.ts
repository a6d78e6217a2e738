#!/usr/bin/env node
// The installed entry point: run the CLI and exit with its code.
import { main } from './main.js';

// `rumpkg … | head`: a closed pipe ends the output quietly, like any Unix tool.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

// Once nothing is left to do (the event loop drained: no write, timer or child pending), exit at
// once: 'exit' listeners run as always, but Node does not tear its heap and threads down first
// (~10-20 ms at the end of a build on this machine, after the output was written).
process.once('beforeExit', () => process.exit());

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`rumpkg: internal error\n${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 70;
  },
);
