/** What the preflight step shows: go / no-go, every check (failures first, in red) with its fix. */
import type { AwsCheck } from '../../../src/aws/checks.js';
import type { PreflightReport } from '../../../src/engine/preflight/preflight.js';
import { checksSection, code, count, duration, type CheckRow } from '../render.js';

export function allChecks(report: PreflightReport, aws: AwsCheck[]): CheckRow[] {
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

export const firstLine = (s: string) => s.split('\n')[0]!;

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
