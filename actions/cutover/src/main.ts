/**
 * Action adapter for `cutover`: optional pre-cutover backups (RDS snapshot + source AMI, the
 * plan's checklist), then runCutover → the freeze figures and the cutover timeline as a Gantt
 * chart in the job summary; outputs the verdict and the write-freeze duration.
 */
import { takePreCutoverBackups, type PreCutoverBackups } from '../../../src/aws/backups.js';
import { runCutover } from '../../../src/engine/cutover/cutover.js';
import { SwitchoverAborted } from '../../../src/engine/cutover/switchover.js';
import { connectionsFromInputs } from '../../shared/connections.js';
import { startDeployment } from '../../shared/deployment.js';
import { input, inputText } from '../../shared/inputs.js';
import { actionsLogger, group } from '../../shared/logger.js';
import { code, heading, table } from '../../shared/render.js';
import { runPhaseAction, type PhaseOutcome } from '../../shared/run.js';
import type { Annotation } from '../../shared/summary.js';
import { abortedOutcome, renderSwitchover, switchoverOptions } from '../../shared/switchover.js';

async function run(): Promise<PhaseOutcome> {
  const log = actionsLogger();
  const connections = await connectionsFromInputs();
  const opts = { ...switchoverOptions(connections, log), finalVerify: input('verify') };
  const annotations: Annotation[] = [];
  const backups = await preCutoverBackups(annotations);
  const deployment = await startDeployment(
    'cutover',
    `${connections.target.host}:${connections.target.port}/${connections.target.database}`,
    annotations,
  );
  let result: Awaited<ReturnType<typeof runCutover>>;
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
  await deployment?.finish(
    result.ok ? 'success' : 'failure',
    `writes frozen ${result.writeFreezeMs} ms; post-check ${result.postCheck.ok ? 'ok' : 'failed'}`,
  );
  if (!result.postCheck.ok)
    annotations.push({
      level: 'error',
      title: 'post-check failed',
      message: `the application path did not write to the new primary: ${result.postCheck.error ?? ''} — see runbooks/cutover.md (rollback is lossless)`,
    });
  const backupSection = backups
    ? [
        heading(3, 'Pre-cutover backups'),
        table(
          ['backup', 'id', 'state'],
          [
            ['RDS snapshot', code(backups.snapshot.snapshotIdentifier), backups.snapshot.status],
            ['source AMI', code(backups.image.imageId), backups.image.state],
          ],
        ),
      ].join('\n\n')
    : '';
  return {
    report: { ...result, backups },
    outputs: {
      verdict: result.ok ? 'switched' : 'switched-post-check-failed',
      'write-freeze-ms': result.writeFreezeMs,
      'reverse-subscription': result.replicationBack.subscription,
    },
    summary: [renderSwitchover(result, opts.switch.describe()), backupSection].filter(Boolean).join('\n\n'),
    annotations,
    failure: result.ok
      ? undefined
      : `cutover switched, but the post-check write through the application path failed: ${result.postCheck.error ?? 'unknown'} — check the application, or run the rollback workflow`,
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
