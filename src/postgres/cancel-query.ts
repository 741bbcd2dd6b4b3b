/**
 * A signal must not wait for a statement that waits on a lock (docs/design.md rule 12): a
 * CREATE SUBSCRIPTION queued behind a lock on one of the target's tables, a CREATE INDEX on a
 * big table. When the run's signal fires, the statement each of the run's own sessions is in is
 * cancelled with pg_cancel_backend on that session's own pid — never anybody else's (rule 14).
 * The session itself stays usable for the undo.
 */
import type pg from 'pg';
import type { ConnInfo } from './conninfo.js';
import { withClient } from './connect.js';

export interface RunSession {
  client: pg.Client;
  info: ConnInfo;
}

export interface QueryCanceller {
  /**
   * Resolves once the cancel requests (if any) were delivered. The undo waits for it, so a cancel
   * cannot land on the undo's own first statement.
   */
  settled(): Promise<void>;
  dispose(): void;
}

/** Internals of pg.Client read here: the backend pid and whether a statement is in flight. */
interface ClientState {
  processID?: number | null;
  _activeQuery?: unknown;
}

export function cancelQueriesOnAbort(signal: AbortSignal | undefined, sessions: RunSession[]): QueryCanceller {
  let delivered: Promise<void> = Promise.resolve();
  if (!signal) return { settled: () => delivered, dispose: () => undefined };
  const onAbort = () => {
    const busy = sessions.filter((s) => {
      const state = s.client as unknown as ClientState;
      return typeof state.processID === 'number' && state._activeQuery;
    });
    delivered = Promise.all(
      busy.map((s) =>
        withClient(s.info, async (c) => {
          await c.query('SELECT pg_cancel_backend($1)', [(s.client as unknown as ClientState).processID]);
        }).catch(() => undefined),
      ),
    ).then(() => undefined);
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  return { settled: () => delivered, dispose: () => signal.removeEventListener('abort', onAbort) };
}
