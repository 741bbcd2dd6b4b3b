/**
 * Cancellation of a phase (docs/design.md rule 12). The adapters (CLI, actions) turn
 * SIGINT/SIGTERM/SIGHUP into an AbortSignal; phases take it as an option and honour it at their
 * step boundaries and inside their waits, then run their own abort path. The engine never
 * installs signal handlers itself and never exits the process.
 */
import { PgshiftError } from './errors.js';

/** The run was told to stop (a signal, or a cancelled job). Exit code 1 like any abort. */
export class Cancelled extends PgshiftError {
  constructor(readonly signalName: string) {
    super('check', `${signalName} received`, 'what this run had started was undone');
  }
}

function reasonOf(signal: AbortSignal): Cancelled {
  return signal.reason instanceof Cancelled ? signal.reason : new Cancelled(String(signal.reason ?? 'cancel'));
}

export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw reasonOf(signal);
}

/**
 * Wait for `work`, or stop waiting as soon as `signal` fires. Only for work that changes
 * nothing, or whose effect the caller's abort path undoes unconditionally (a pending PgBouncer
 * PAUSE is lifted by RESUME): the work itself keeps running in the background.
 */
export function untilCancelled<T>(signal: AbortSignal | undefined, work: Promise<T>): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(reasonOf(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      work.catch(() => undefined);
      reject(reasonOf(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Sleep that ends early (with Cancelled) when the signal fires. */
export function cancellableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return untilCancelled(signal, new Promise<void>((r) => setTimeout(r, ms)));
}
