/**
 * What cutover, rollback and recover share in the actions: the switchover options from the inputs
 * (connections, switch, bounds, engines) and the outcome of an abort. The summaries are in
 * summaries/switchover.ts.
 */
import { enginesFromInputs } from './engine.js';
import type { SwitchoverOptions } from '../../src/engine/cutover/switchover.js';
import type { SwitchoverAborted } from '../../src/engine/cutover/switchover.js';
import { stateDir } from '../../src/engine/cutover/state-file.js';
import { migrationNames } from '../../src/engine/names.js';
import { parseConnInfo } from '../../src/postgres/conninfo.js';
import type { Logger } from '../../src/log/logger.js';
import type { Connections } from './connections.js';
import { input, inputText } from './inputs.js';
import type { PhaseOutcome } from './run.js';
import { switchFromInputs } from './switch.js';
import { renderAborted } from './summaries/switchover.js';

export function switchoverOptions(c: Connections, log: Logger): SwitchoverOptions {
  const appUrl = inputText('app-url');
  const name = input('name')!;
  return {
    source: c.source,
    target: c.target,
    sourceFromTarget: c.sourceFromTarget,
    targetFromSource: c.targetFromSource,
    names: migrationNames(name),
    switch: switchFromInputs(log),
    maxLagBytes: input('max-lag'),
    maxFreezeMs: input('max-freeze'),
    appPath: appUrl ? parseConnInfo(appUrl, 'target') : undefined,
    stateDir: stateDir(inputText('state-dir')),
    ...enginesFromInputs(name, log),
    log,
  };
}

/** An abort before the switch: the old primary still serves, writes flow again; the summary shows how far it got. */
export function abortedOutcome(kind: 'cutover' | 'rollback', err: SwitchoverAborted, report: Record<string, unknown>): PhaseOutcome {
  const line = err.oneLine();
  return {
    report: { ...report, aborted: true, reason: line, writeFreezeMs: err.writeFreezeMs, steps: err.steps },
    outputs: { verdict: 'aborted', 'write-freeze-ms': err.writeFreezeMs },
    summary: renderAborted(kind, err),
    failure: line,
  };
}
