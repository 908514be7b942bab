#!/usr/bin/env node
// The `ws-inspector` command, for CI: runs scenario files headless on src/core (nothing from vscode).
// `npx ws-inspector test [files or globs]`; see args.ts for the options.

import { parseTestArgs, UsageError, USAGE } from './args';
import { runTests } from './testCommand';
import { setUnexpectedErrorHandler } from '../core/util/events';

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '-h' || command === '--help' || command === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (command !== 'test') {
    console.error(command === undefined ? USAGE : `ws-inspector: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  if (rest.includes('-h') || rest.includes('--help')) {
    console.log(USAGE);
    return 0;
  }
  let args;
  try {
    args = parseTestArgs(rest);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`ws-inspector: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  setUnexpectedErrorHandler((err) => console.error('ws-inspector: internal error in a listener:', err));
  return runTests(args, {
    cwd: process.cwd(),
    env: process.env,
    out: (line) => console.log(line),
    err: (line) => console.error(line),
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    // Let stdout drain before the exit code is set; the event loop is empty once every scenario has cleaned up.
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error('ws-inspector:', err);
    process.exitCode = 1;
  },
);
