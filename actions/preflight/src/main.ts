/**
 * Action adapter for `preflight`: inputs → runPreflight (plus the RDS-side checks when the target
 * came from rds-instance-id) → the checks table in the job summary, WARN/FAIL as annotations,
 * the step failing when any check fails.
 */
import type { AwsCheck } from '../../../src/aws/checks.js';
import { migrationNames } from '../../../src/engine/names.js';
import { runPreflight, type PreflightReport } from '../../../src/engine/preflight/preflight.js';
import { connectionsFromInputs } from '../../shared/connections.js';
import { input } from '../../shared/inputs.js';
import { actionsLogger, group } from '../../shared/logger.js';
import { checksSection, code, count, duration, type CheckRow } from '../../shared/render.js';
import { runPhaseAction, type PhaseOutcome } from '../../shared/run.js';
import type { Annotation } from '../../shared/summary.js';

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

function allChecks(report: PreflightReport, aws: AwsCheck[]): CheckRow[] {
  return [
    ...report.checks.map((c) => ({
      id: c.id,
      scope: c.scope,
      status: c.status,
      title: c.title,
      detail: c.detail,
      remediation: c.remediation,
    })),
    ...aws.map((c) => ({ id: c.id, scope: 'aws', status: c.status, detail: c.detail, remediation: c.remediation })),
  ];
}

const firstLine = (s: string) => s.split('\n')[0]!;

export function renderPreflight(report: PreflightReport, rows: CheckRow[], verdict: string): string {
  const counts = { PASS: 0, WARN: 0, FAIL: 0 };
  for (const r of rows) counts[r.status]++;
  const icon = verdict === 'fail' ? '❌' : verdict === 'warn' ? '⚠️' : '✅';
  const headline =
    `${icon} **${verdict.toUpperCase()}** — ${count(counts.PASS)} passed, ${count(counts.WARN)} warnings, ${count(counts.FAIL)} failed ` +
    `(${duration(report.durationMs)}). Source ${code(report.source.server)} PostgreSQL ${report.source.version} → target ${code(report.target.server)} PostgreSQL ${report.target.version}.`;
  const next =
    verdict === 'fail'
      ? '**No-go:** fix every FAIL (the fix is under each one), then run preflight again. Do not start full-load.'
      : '**Go:** run the full-load workflow. Read every WARN first: each one says what it costs.';
  return [headline, next, checksSection(rows)].join('\n\n');
}

await runPhaseAction({ phase: 'preflight', title: 'preflight', run });
