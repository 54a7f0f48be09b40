import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What a running `npm start` tells other local tools (`npm run invoke`): where its servers listen and the
 * environment its handlers get. Written on start, removed on stop; git-ignored.
 */
export interface PlaygroundState {
  readonly pid: number;
  readonly url: string;
  /** The variables a handler needs to run against this playground's table and queues. */
  readonly handlerEnvironment: Readonly<Record<string, string>>;
}

/**
 * Where {@link PlaygroundState} lives: `.cache/playground/state.json` in the checkout, unless
 * `PLAYGROUND_STATE_FILE` names another file (the tests' playgrounds do, so they never replace the record
 * of a `npm start` running beside them).
 */
export const STATE_FILE =
  process.env.PLAYGROUND_STATE_FILE?.trim() ||
  fileURLToPath(new URL('../.cache/playground/state.json', import.meta.url));

/**
 * Records the running playground for other local tools.
 *
 * @example
 * writeState({ pid: process.pid, url, handlerEnvironment });
 */
export function writeState(state: PlaygroundState, file = STATE_FILE): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`);
}

/** Forgets the playground, if the file is still this process's. */
export function removeState(file = STATE_FILE, pid = process.pid): void {
  if (readState(file)?.pid === pid) rmSync(file, { force: true });
}

/**
 * The running playground, or `undefined` when none is recorded or its process is gone.
 *
 * @example
 * const state = readState();
 */
export function readState(file = STATE_FILE): PlaygroundState | undefined {
  let state: PlaygroundState;
  try {
    state = JSON.parse(readFileSync(file, 'utf8')) as PlaygroundState;
  } catch {
    return undefined;
  }
  try {
    process.kill(state.pid, 0);
  } catch {
    return undefined;
  }
  return state;
}
