/**
 * Phase: cutover. The application moves from the source to the target with writes frozen for
 * well under a second, and the target starts replicating back to the source so that rollback
 * loses nothing. The steps are those of runSwitchover (switchover.ts), source -> target.
 *
 * When the after-resume check finds the two sides different at the switch point, the result
 * fails (exit 1). With `--on-mismatch rollback` the lossless rollback runs at once: the source
 * still holds what the target lacks, and every write made on the target since the switch has
 * been replicated back to it.
 */
import { PgshiftError } from '../../errors.js';
import { redact } from '../../postgres/redact.js';
import { reverseLinkStatus, runRollback, type RollbackResult } from '../rollback/rollback.js';
import { runSwitchover, type SwitchoverOptions, type SwitchoverResult } from './switchover.js';

export type CutoverOptions = SwitchoverOptions;
export interface CutoverResult extends SwitchoverResult {
  /** The rollback `--on-mismatch rollback` ran after a mismatch; absent otherwise. */
  mismatchRollback?: RollbackResult;
  /** Why that rollback did not happen (it aborted before its switch: the target stays primary). */
  mismatchRollbackError?: string;
}

export async function runCutover(opts: CutoverOptions): Promise<CutoverResult> {
  const result = await runSwitchover('cutover', opts);
  const check = result.snapshotCheck;
  // A check that could not run (error) proves nothing either way: it alerts, it does not roll back.
  if (!check || check.ok || check.error || (opts.onMismatch ?? 'alert') !== 'rollback') return result;
  opts.log.warn('the switch-point check found differences: rolling back to the source at once (--on-mismatch rollback)');
  // The rollback's own check finds the same difference (the target still lacks it): it only reports it.
  try {
    // The return link was created moments ago: its apply worker must be streaming before the rollback's pre-check.
    await waitUntilStreaming(opts);
    const mismatchRollback = await runRollback({ ...opts, onMismatch: 'alert' });
    return { ...result, ok: false, mismatchRollback };
  } catch (err) {
    const reason = err instanceof PgshiftError ? err.oneLine() : redact((err as Error).message);
    opts.log.warn(`the rollback after the mismatch did not happen: ${reason}`);
    return { ...result, ok: false, mismatchRollbackError: reason };
  }
}

/**
 * Wait (bounded) until the return link runs, as its engine reports it. The launcher starts a native
 * subscription's apply worker asynchronously after CREATE SUBSCRIPTION; on a busy host that takes a
 * while, and a rollback refuses a link that is not running yet.
 */
async function waitUntilStreaming(opts: CutoverOptions, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await reverseLinkStatus(opts)).running && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}
