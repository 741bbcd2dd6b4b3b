import { PgshiftError } from '../errors.js';

/** How long a waiter polls, and (for tests) how it sleeps and reads the clock. */
export interface WaitOptions {
  /** Give up after this long. Snapshots of a 20 GB gp3 volume take minutes, AMIs longer. */
  timeoutMs?: number;
  intervalMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  /** Called with the state seen at each poll, e.g. to print progress. */
  onPoll?: (state: string, elapsedMs: number) => void;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Poll `read` until it reports `ready`, fails, or the deadline passes. A bounded loop of our own
 * instead of the SDK waiters: the same code path for snapshots and AMIs, a failure state is an
 * immediate error instead of a long wait, and tests drive the clock.
 */
export async function pollUntil(
  read: () => Promise<string>,
  spec: { ready: string[]; failed: string[]; what: string; onTimeout: string; onFailed: string },
  opts: WaitOptions = {},
): Promise<{ state: string; polls: number; elapsedMs: number }> {
  const timeoutMs = opts.timeoutMs ?? 30 * 60_000;
  const intervalMs = opts.intervalMs ?? 15_000;
  const sleep = opts.sleep ?? realSleep;
  const now = opts.now ?? Date.now;
  const started = now();
  let polls = 0;
  for (;;) {
    const state = await read();
    polls += 1;
    const elapsedMs = now() - started;
    opts.onPoll?.(state, elapsedMs);
    if (spec.ready.includes(state)) return { state, polls, elapsedMs };
    if (spec.failed.includes(state)) throw new PgshiftError('internal', `${spec.what} ended in state '${state}'`, spec.onFailed);
    if (elapsedMs + intervalMs > timeoutMs) {
      throw new PgshiftError(
        'internal',
        `${spec.what} is still '${state}' after ${Math.round(elapsedMs / 1000)} s (limit ${Math.round(timeoutMs / 1000)} s)`,
        spec.onTimeout,
      );
    }
    await sleep(intervalMs);
  }
}
