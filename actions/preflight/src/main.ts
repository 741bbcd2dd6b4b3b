/**
 * Action adapter for `preflight`: inputs → runPreflight (plus the RDS-side checks when the target
 * came from rds-instance-id) → the checks table in the job summary, WARN/FAIL as annotations,
 * the step failing when any check fails.
 */
import { migrationNames } from '../../../src/engine/names.js';
import { runPreflight } from '../../../src/engine/preflight/preflight.js';
import { connectionsFromInputs } from '../../common/connections.js';
import { input } from '../../common/inputs.js';
import { actionsLogger, group } from '../../common/logger.js';
import { runPhaseAction, type PhaseOutcome } from '../../common/run.js';
import type { Annotation } from '../../common/summary.js';
import { allChecks, firstLine, renderPreflight } from '../../common/summaries/preflight.js';

async function run(): Promise<PhaseOutcome> {
  const { source, target, sourceFromTarget, awsChecks } = await connectionsFromInputs();
  const report = await group('preflight checks', () =>
    runPreflight({
      source,
      target,
      sourceFromTarget,
      names: migrationNames(input('name')!),
      clean: input('clean'),
      engine: input('engine'),
      dmsSubnetCidrs: input('dms-subnet-cidrs'),
      log: actionsLogger(),
    }),
  );
  const rows = allChecks(report, awsChecks);
  const failed = rows.filter((c) => c.status === 'FAIL');
  const warned = rows.filter((c) => c.status === 'WARN');
  const verdict = failed.length ? 'fail' : warned.length ? 'warn' : 'pass';
  return {
    report: { ...report, aws: awsChecks },
    outputs: {
      verdict,
      'failed-checks': failed.map((c) => c.id).join(','),
      'warned-checks': warned.map((c) => c.id).join(','),
    },
    summary: renderPreflight(report, rows, verdict),
    annotations: [...failed, ...warned].map(
      (c): Annotation => ({
        level: c.status === 'FAIL' ? 'error' : 'warning',
        title: `preflight ${c.status} ${c.id}`,
        message: c.remediation ? `${c.detail} — fix: ${firstLine(c.remediation)}` : c.detail,
      }),
    ),
    failure: failed.length
      ? `preflight: ${failed.length} check(s) failed (${failed.map((c) => c.id).join(', ')}) — apply the fixes in the job summary, then run preflight again`
      : undefined,
  };
}

await runPhaseAction({ phase: 'preflight', title: 'preflight', run });
