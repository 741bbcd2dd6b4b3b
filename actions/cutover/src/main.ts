/**
 * Action adapter for `cutover`: optional pre-cutover backups (RDS snapshot + source AMI, the
 * plan's checklist), then runCutover → the freeze figures and the cutover timeline as a Gantt
 * chart in the job summary; outputs the verdict and the write-freeze duration.
 */
import { takePreCutoverBackups, type PreCutoverBackups } from '../../../src/aws/backups.js';
import { runCutover } from '../../../src/engine/cutover/cutover.js';
import { describeMismatches } from '../../../src/engine/cutover/snapshot-check.js';
import { SwitchoverAborted } from '../../../src/engine/cutover/switchover.js';
import { connectionsFromInputs } from '../../shared/connections.js';
import { startDeployment } from '../../shared/deployment.js';
import { input, inputText } from '../../shared/inputs.js';
import { actionsLogger, group } from '../../shared/logger.js';
import { code, heading, table } from '../../shared/render.js';
import { runPhaseAction, type PhaseOutcome } from '../../shared/run.js';
import type { Annotation } from '../../shared/summary.js';
import { abortedOutcome, renderSwitchover, switchoverOptions } from '../../shared/switchover.js';

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
  const check = result.snapshotCheck;
  const mismatch = check !== undefined && !check.ok && !check.error;
  await deployment?.finish(
    result.ok ? 'success' : 'failure',
    `writes frozen ${result.writeFreezeMs} ms; post-check ${result.postCheck.ok ? 'ok' : 'failed'}; switch-point check ${check ? (check.ok ? 'equal' : mismatch ? 'MISMATCH' : 'could not run') : 'skipped'}${result.mismatchRollback ? '; rolled back' : ''}`,
  );
  if (mismatch)
    annotations.push({
      level: 'error',
      title: 'the two sides differed at the switch point',
      message: `${describeMismatches(check.mismatched)} — ${
        result.mismatchRollback
          ? 'rolled back to the source at once (on-mismatch: rollback, lossless)'
          : result.mismatchRollbackError
            ? `the rollback did NOT happen: ${result.mismatchRollbackError}`
            : 'the target serves the application: see runbooks/cutover.md (rollback is lossless)'
      }`,
    });
  else if (check?.error)
    annotations.push({
      level: 'error',
      title: 'the switch-point check could not run',
      message: `${check.error} — run pgshift verify --mode full; see runbooks/cutover.md`,
    });
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
      verdict: result.mismatchRollback
        ? 'rolled-back-after-mismatch'
        : mismatch
          ? 'switched-mismatch'
          : check?.error
            ? 'switched-check-failed'
            : result.ok
              ? 'switched'
              : 'switched-post-check-failed',
      'write-freeze-ms': result.writeFreezeMs,
      'reverse-subscription': result.replicationBack.subscription,
    },
    summary: [
      renderSwitchover(result, opts.switch.describe()),
      result.mismatchRollback?.mode === 'lossless'
        ? `${heading(3, 'Rolled back at once (on-mismatch: rollback)')}\n\n${renderSwitchover(result.mismatchRollback, opts.switch.describe())}`
        : '',
      backupSection,
    ]
      .filter(Boolean)
      .join('\n\n'),
    annotations,
    failure: result.ok ? undefined : failureLine(result),
  };
}

function failureLine(r: Awaited<ReturnType<typeof runCutover>>): string {
  const check = r.snapshotCheck;
  if (check && !check.ok && !check.error)
    return `the two sides differed at the switch point: ${describeMismatches(check.mismatched)}${r.mismatchRollback ? ' — rolled back to the source' : ''}`;
  if (check?.error) return `cutover switched, but the switch-point check could not run: ${check.error}`;
  return `cutover switched, but the post-check write through the application path failed: ${r.postCheck.error ?? 'unknown'} — check the application, or run the rollback workflow`;
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
