/** Plain-text renderings of phase results for a terminal (the actions render Markdown instead). */
import type { DumpRestoreResult } from '../engine/full-load/dump-restore.js';
import type { FullLoadResult } from '../engine/full-load/full-load.js';
import type { PreflightReport } from '../engine/preflight/preflight.js';
import type { StartCdcResult, CdcStatus, StopCdcResult } from '../engine/cdc/index.js';
import type { VerifyReport } from '../engine/verify/report.js';
import type { CutoverResult } from '../engine/cutover/cutover.js';
import { describeSnapshotCheck } from '../engine/cutover/snapshot-check.js';
import type { SwitchoverResult } from '../engine/cutover/switchover.js';
import type { RollbackResult } from '../engine/rollback/rollback.js';
import type { CleanupResult } from '../engine/cleanup/cleanup.js';
import type { DdlReport } from '../engine/ddl/index.js';
import { relationKey } from '../postgres/sql.js';

const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(cells[0]!), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join('\n');
}

export function renderSteps(steps: { step: string; ms: number; ok: boolean }[]): string {
  return table(
    ['step', 'ms', ''],
    steps.map((s) => [s.step, s.ms, s.ok ? 'ok' : 'FAILED']),
  );
}

export function renderFullLoad(r: FullLoadResult | DumpRestoreResult): string {
  if (r.strategy === 'dump-restore') {
    return `${renderSteps(r.steps)}\n\ndump-restore done in ${r.totals.seconds.toFixed(1)} s (dump file ${mb(r.dumpBytes)}). No slot was made: CDC cannot follow this load.`;
  }
  const tables = table(
    ['table', 'rows', 'size', 'chunks', 'indexes', 'foreign keys', 'seconds'],
    r.tables.map((t) => [`${t.schema}.${t.name}`, t.rows, mb(t.bytes), t.chunks, t.indexes, t.foreignKeys, t.seconds.toFixed(1)]),
  );
  const notes = [
    `full-load: ${r.totals.rows} rows, ${mb(r.totals.bytes)} in ${r.totals.seconds.toFixed(1)} s (copy ${r.totals.copySeconds.toFixed(1)} s, ${mb(r.totals.bytesPerSecond)}/s)`,
    `slot ${r.slotName} (publication ${r.publication}) streams from LSN ${r.consistentLsn} — next: pgshift cdc start`,
    `roles created on the target: ${r.roles.created.join(', ') || 'none'}`,
  ];
  if (r.roles.needPassword.length)
    notes.push(`set their passwords on the target: ${r.roles.needPassword.map((n) => `ALTER ROLE "${n}" PASSWORD '...';`).join(' ')}`);
  notes.push(
    `sequences ${r.sequences}, large objects ${r.largeObjects}, materialized views refreshed: ${r.materializedViews.join(', ') || 'none'}`,
  );
  return `${tables}\n\n${renderSteps(r.steps)}\n\n${notes.join('\n')}`;
}

export function renderPreflight(r: PreflightReport): string {
  const rows = r.checks.map((c) => [c.status, c.id, `${c.title}: ${c.detail}`]);
  const fixes = r.checks
    .filter((c) => c.status !== 'PASS' && c.remediation)
    .map((c) => `[${c.status}] ${c.id}\n  ${c.remediation!.split('\n').join('\n  ')}`);
  return [
    `source ${r.source.server} (${r.source.version}) -> target ${r.target.server} (${r.target.version})`,
    table(['status', 'check', 'detail'], rows),
    fixes.length ? `\nWhat to do:\n${fixes.join('\n')}` : '',
    `\n${r.counts.pass} PASS, ${r.counts.warn} WARN, ${r.counts.fail} FAIL — ${r.ok ? 'go' : 'no-go: fix every FAIL first'}`,
  ].join('\n');
}

export function renderCdcStart(r: StartCdcResult): string {
  const lines = [
    `subscription ${r.subscription} streams from slot ${r.slotName} (publication ${r.publication}, ${r.strategy}) in ${r.seconds.toFixed(1)} s`,
  ];
  if (r.alreadyRunning) lines.push('an earlier cdc start had made it: nothing was changed');
  lines.push(`options: ${r.options.map((o) => `${o.option} = ${o.value}`).join(', ') || 'defaults'}`);
  for (const s of r.skippedOptions) lines.push(`left out ${s.option}: ${s.reason}`);
  lines.push(`schema changes (--ddl): ${r.ddl}${r.resumed ? '; the disabled subscription was enabled again' : ''}`);
  if (r.fullIdentityWithoutIndex.length)
    lines.push(
      `WARN REPLICA IDENTITY FULL without an index on the target (every UPDATE/DELETE is a full scan): ${r.fullIdentityWithoutIndex.map(relationKey).join(', ')} — rerun with --create-helper-indexes`,
    );
  return lines.join('\n');
}

export function renderDdlReport(r: DdlReport): string {
  const lines = [`subscription: ${r.subscriptionEnabled === null ? 'none' : r.subscriptionEnabled ? 'enabled' : 'DISABLED'}`];
  for (const e of r.entries) {
    const when = e.appliedAt ? ` at ${e.appliedAt} (${e.appliedHow})` : '';
    lines.push(`#${e.id} ${e.state.toUpperCase()}${when} [${e.class}] ${e.commandTags.join(', ')} ${e.objects.join(', ')}`);
    if (e.state !== 'applied' && e.reason) lines.push(`    ${e.reason}`);
  }
  if (r.stoppedOn)
    lines.push(
      `replication is stopped on #${r.stoppedOn.id}: resolve it with 'pgshift cdc ddl resolve ${r.stoppedOn.id} --sql …' or '--mark-applied' (the apply worker's next retry applies it${r.subscriptionEnabled === false ? "; the subscription is disabled: then 'pgshift cdc start'" : ''})`,
    );
  if (r.refresh?.added.length) lines.push(`added to the subscription with their rows: ${r.refresh.added.map(relationKey).join(', ')}`);
  if (r.refresh?.waiting.length)
    lines.push(`not on the target yet (their CREATE is not applied): ${r.refresh.waiting.map(relationKey).join(', ')}`);
  return lines.join('\n');
}

export function renderCdcStatus(s: CdcStatus): string {
  const lines = [
    `subscription: ${s.subscription ? `${s.subscription.name} ${s.subscription.enabled ? 'enabled' : 'DISABLED'}, worker ${s.subscription.workerRunning ? 'running' : 'NOT running'}, apply errors ${s.subscription.applyErrorCount ?? 'n/a'}` : 'none'}`,
    `lag: ${s.lagBytes ?? '?'} bytes (source ${s.sourceLsn}, applied ${s.appliedLsn ?? '-'}), ${s.lagMs !== null ? `${s.lagMs} ms` : s.lagMsAtLeast !== null ? `more than ${s.lagMsAtLeast} ms` : 'ms not measured'}`,
    `WAL retained by the slot: ${mb(s.retained.bytes)} (warn at ${mb(s.retained.warnBytes)}, critical at ${mb(s.retained.maxBytes)})`,
  ];
  const notReady = s.tables.filter((t) => t.state !== 'ready');
  lines.push(
    `tables: ${s.tables.length} (${notReady.length ? `not ready: ${notReady.map((t) => `${relationKey(t)} ${t.state}`).join(', ')}` : 'all ready'})`,
  );
  for (const f of s.findings) lines.push(`${f.level.toUpperCase()} ${f.message}`);
  lines.push(`verdict: ${s.verdict}`);
  return lines.join('\n');
}

export function renderCdcStop(r: StopCdcResult): string {
  if (r.nothingToDo) return 'nothing to stop: no subscription, slot or publication of this migration';
  const lines = [
    `subscription dropped: ${r.droppedSubscription ? 'yes' : 'no'}; slots dropped: ${r.droppedSlots.join(', ') || 'none'}; publication dropped: ${r.droppedPublication ? 'yes' : 'no'}`,
  ];
  for (const l of r.leftovers) lines.push(`LEFT on the source: ${l.kind} ${l.name} — run there: ${l.sql}`);
  return lines.join('\n');
}

export function renderVerify(r: VerifyReport): string {
  const rows = r.tables.map((t) => [
    relationKey(t.table),
    t.verdict,
    t.sourceRows,
    t.targetRows ?? '-',
    t.differences ? `missing ${t.differences.missingOnTarget}, extra ${t.differences.extraOnTarget}, changed ${t.differences.changed}` : '',
  ]);
  const lines = [table(['table', 'verdict', 'source rows', 'target rows', 'differences'], rows)];
  for (const t of r.tables.filter((t) => t.differences)) {
    const k = t.differences!.keys;
    const fmt = (keys: Record<string, string>[]) => keys.map((key) => JSON.stringify(key)).join(' ');
    if (k.missingOnTarget.length) lines.push(`${relationKey(t.table)} missing on target: ${fmt(k.missingOnTarget)}`);
    if (k.extraOnTarget.length) lines.push(`${relationKey(t.table)} extra on target: ${fmt(k.extraOnTarget)}`);
    if (k.changed.length) lines.push(`${relationKey(t.table)} changed: ${fmt(k.changed)}`);
  }
  const seqBehind = r.sequences.filter((s) => s.status !== 'equal');
  if (seqBehind.length)
    lines.push(
      `sequences not equal (expected while CDC runs; cutover sets them): ${seqBehind.map((s) => `${relationKey(s.sequence)} ${s.status}`).join(', ')}`,
    );
  for (const d of r.schemaDrift) lines.push(`schema drift: ${JSON.stringify(d)}`);
  lines.push(`${r.mode} verify: ${r.ok ? 'EQUAL' : 'DIFFERS'} (${r.summary.tables} tables, ${r.durationMs} ms)`);
  return lines.join('\n');
}

export function renderSwitchover(r: SwitchoverResult & Partial<Pick<CutoverResult, 'mismatchRollback' | 'mismatchRollbackError'>>): string {
  const lines = [
    renderSteps(r.steps),
    '',
    `${r.kind}: ${r.from} -> ${r.to}; writes frozen ${r.writeFreezeMs} ms (lag at freeze ${r.lagAtFreezeBytes} bytes, applied in ${r.waitForApplyMs} ms)`,
    `sequences set: ${r.sequencesSet}; replication now runs back through ${r.replicationBack.subscription}`,
    `post-check through the application path: ${r.postCheck.ok ? 'ok' : `FAILED (${r.postCheck.error})`}`,
    `switch-point check (after resuming, in snapshots taken inside the freeze): ${describeSnapshotCheck(r.snapshotCheck)}`,
  ];
  if (r.mismatchRollback) lines.push('', '--on-mismatch rollback: rolled back at once', renderRollback(r.mismatchRollback));
  if (r.mismatchRollbackError) lines.push(`--on-mismatch rollback: the rollback did NOT happen: ${r.mismatchRollbackError}`);
  return lines.join('\n');
}

export function renderRollback(r: RollbackResult): string {
  if (r.mode === 'lossless') return renderSwitchover(r);
  const lost = r.lost.map((l) => `${l.table}: ${l.rows} row(s) left on the target`).join('\n');
  return `${renderSteps(r.steps)}\n\nrolled back WITHOUT reverse replication.${lost ? `\n${lost}` : ' Nothing was written on the target.'}`;
}

export function renderCleanup(r: CleanupResult): string {
  const dropped = r.dropped.map((d) => `dropped ${d.kind} ${d.name} on the ${d.side}`);
  const left = r.leftovers.map((l) => `LEFT ${l.kind} ${l.name} on the ${l.side}`);
  return [...dropped, ...left, r.ok ? 'nothing of this migration is left on either side' : 'some objects are left: drop them by hand'].join(
    '\n',
  );
}
