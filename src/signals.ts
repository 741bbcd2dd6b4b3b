/**
 * Signals into cancellation, for the CLI and the actions alike (docs/design.md rule 12).
 *
 * A cancelled GitHub job gets SIGINT, SIGTERM 7.5 s later and SIGKILL 2.5 s after that; a
 * terminal gets SIGINT (Ctrl-C) or SIGHUP (the session closed). The first of these aborts the
 * run's AbortSignal, and the phase runs its abort path. Every later signal is only logged: the
 * handlers stay installed until the process exits, so a second Ctrl-C or the SIGTERM that
 * follows SIGINT cannot cut the undo short (only SIGKILL can, and `pgshift recover` is for that).
 */
import { Cancelled } from './cancel.js';
import type { Logger } from './log/logger.js';

export const CANCELLING_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export interface SignalCancel {
  readonly signal: AbortSignal;
  /** The first signal received, if any. */
  received(): string | undefined;
  /** Remove the handlers (only once the run, its abort path included, is over). */
  dispose(): void;
}

let firstSignal: string | undefined;

/** The first cancelling signal this process received, if any (the CLI exits 1 after it). */
export function signalReceived(): string | undefined {
  return firstSignal;
}

export function cancelOnSignals(log: Logger): SignalCancel {
  const controller = new AbortController();
  let first: string | undefined;
  const handler = (sig: NodeJS.Signals) => {
    if (!first) {
      first = sig;
      firstSignal ??= sig;
      log.warn(`${sig} received: undoing what this run started, then exiting 1 (further signals do not interrupt the undo)`);
      controller.abort(new Cancelled(sig));
    } else {
      log.warn(`${sig} received again: still undoing after ${first}; exiting as soon as that is done`);
    }
  };
  for (const s of CANCELLING_SIGNALS) process.on(s, handler);
  return {
    signal: controller.signal,
    received: () => first,
    dispose: () => {
      for (const s of CANCELLING_SIGNALS) process.off(s, handler);
    },
  };
}
