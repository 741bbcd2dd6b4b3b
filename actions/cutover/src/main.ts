/**
 * Action adapter for `cutover`: optional pre-cutover backups (RDS snapshot + source AMI, the
 * plan's checklist), a deployment record, then runCutover; the result goes to the outputs and the
 * summary rendered by common/summaries/cutover.ts.
 */
import { takePreCutoverBackups, type PreCutoverBackups } from '../../../src/aws/backups.js';
import { runCutover, type CutoverResult } from '../../../src/engine/cutover/cutover.js';
import { SwitchoverAborted } from '../../../src/engine/cutover/switchover.js';
import { connectionsFromInputs } from '../../common/connections.js';
import { startDeployment } from '../../common/deployment.js';
import { input, inputText } from '../../common/inputs.js';
import { actionsLogger, group } from '../../common/logger.js';
import { runPhaseAction, type PhaseOutcome } from '../../common/run.js';
import type { Annotation } from '../../common/summary.js';
import { abortedOutcome, switchoverOptions } from '../../common/switchover.js';
import { cutoverAnnotations, cutoverFailure, cutoverVerdict, renderCutover } from '../../common/summaries/cutover.js';

async function run(signal: AbortSignal): Promise<PhaseOutcome> {
  const log = actionsLogger();
  const connections = await connectionsFromInputs();
  const opts = { ...switchoverOptions(connections, log), signal, finalVerify: input('verify'), onMismatch: input('on-mismatch') };
  const annotations: Annotation[] = [];
  const backups = await preCutoverBackups(annotations);
  const deployment = await startDeployment(
    'cutover',
    `${connections.target.host}:${connections.target.port}/${connections.target.database}`,
    annotations,
  );
  let result: CutoverResult;
  try {
    result = await group('cutover', () => runCutover(opts));
  } catch (err) {
    await deployment?.finish('failure', err instanceof SwitchoverAborted ? err.oneLine() : 'cutover failed');
    if (err instanceof SwitchoverAborted)
      return {
        ...abortedOutcome('cutover', err, { backups }),
        annotations: [...annotations, { level: 'error', title: 'cutover aborted', message: err.oneLine() }],
      };
    throw err;
  }
  const check = result.snapshotCheck;
  const mismatch = check !== undefined && !check.ok && !check.error;
  await deployment?.finish(
    result.ok ? 'success' : 'failure',
    `writes frozen ${result.writeFreezeMs} ms; post-check ${result.postCheck.ok ? 'ok' : 'failed'}; switch-point check ${check ? (check.ok ? 'equal' : mismatch ? 'MISMATCH' : 'could not run') : 'skipped'}${result.mismatchRollback ? '; rolled back' : ''}`,
  );
  annotations.push(...cutoverAnnotations(result));
  return {
    report: { ...result, backups },
    outputs: {
      verdict: cutoverVerdict(result),
      'write-freeze-ms': result.writeFreezeMs,
      'reverse-subscription': result.replicationBack.subscription,
    },
    summary: renderCutover(result, opts.switch.describe(), backups),
    annotations,
    failure: result.ok ? undefined : cutoverFailure(result),
  };
}

/** The plan's checklist: snapshot the target and image the source before anything is frozen. */
async function preCutoverBackups(annotations: Annotation[]): Promise<PreCutoverBackups | null> {
  const dbInstanceIdentifier = inputText('rds-instance-id');
  const sourceInstanceId = inputText('source-instance-id');
  if (!dbInstanceIdentifier || !sourceInstanceId) {
    annotations.push({
      level: 'warning',
      title: 'no pre-cutover backups',
      message: 'rds-instance-id and source-instance-id are not both set: no RDS snapshot or source AMI was taken before the cutover',
    });
    return null;
  }
  return group('pre-cutover backups (RDS snapshot, source AMI)', () =>
    takePreCutoverBackups({
      dbInstanceIdentifier,
      sourceInstanceId,
      region: inputText('aws-region'),
      targetRoleArn: inputText('aws-target-role-arn'),
    }),
  );
}

await runPhaseAction({ phase: 'cutover', title: 'cutover', run });
