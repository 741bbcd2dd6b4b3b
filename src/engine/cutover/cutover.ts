/**
 * Phase: cutover. The application moves from the source to the target with writes frozen for
 * well under a second, and the target starts replicating back to the source so that rollback
 * loses nothing. The steps are those of runSwitchover (switchover.ts), source -> target.
 */
import { runSwitchover, type SwitchoverOptions, type SwitchoverResult } from './switchover.js';

export type CutoverOptions = SwitchoverOptions;
export type CutoverResult = SwitchoverResult;

export function runCutover(opts: CutoverOptions): Promise<CutoverResult> {
  return runSwitchover('cutover', opts);
}
