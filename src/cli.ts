#!/usr/bin/env node
// `npx cachette <command>`: see src/cli/help.ts, or run `cachette --help`.
import { main } from './cli/main.js';

process.exitCode = await main(process.argv.slice(2), {
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
