#!/usr/bin/env node
/**
 * The `idemkit` command (package `bin`). Everything lives in {@link run}; this file only wires it to the
 * process, so tests can run the same entry point.
 */
import { run } from './program.js';

process.exitCode = await run(process.argv.slice(2));
