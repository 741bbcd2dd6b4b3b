/**
 * The switchover's exact check, kept out of the write freeze.
 *
 * Counting (or hashing) every table is linear in the database's size; done inside the freeze it
 * made the freeze grow with the data (0.5-0.6 s of a 0.75-1.2 s freeze at 229 MB). Instead:
 *
 *   before the freeze   open one session per side (a connection costs a login, TLS on RDS)
 *   inside the freeze   once the new primary has applied the old one's last LSN, each session
 *                       enters a REPEATABLE READ transaction and exports its snapshot
 *                       (`pg_export_snapshot()`): milliseconds, whatever the size
 *   after resuming      verify reads both sides *in those snapshots*, i.e. exactly the data at
 *                       the switch point, whatever the application writes meanwhile
 *
 * The exporting transactions stay open until verify's sessions have imported the snapshots
 * (an exported snapshot can be imported only while its transaction runs). They take no xid
 * and no lock, so nothing waits on them, and creating the reverse slot does not either.
 */
import type pg from 'pg';
import { checkFailed } from '../../errors.js';
import { connect } from '../../postgres/connect.js';
import type { ConnInfo } from '../../postgres/conninfo.js';
import { redact } from '../../postgres/redact.js';
import { relationKey } from '../../postgres/sql.js';
import type { Logger } from '../../log/logger.js';
import type { VerifyMode } from '../verify/report.js';
import type { SnapshotIds } from '../verify/session.js';
import { runVerify } from '../verify/verify.js';

/** What the run does when the after-resume check finds a difference. */
export type OnMismatch = 'alert' | 'rollback';
export const ON_MISMATCH_CHOICES: readonly OnMismatch[] = ['alert', 'rollback'];

/** One session per side that holds the exported snapshot until the check has imported it. */
export interface SnapshotHolders {
  from: pg.Client;
  to: pg.Client;
}

export interface MismatchedTable {
  table: string;
  /** Rows in the snapshot on the old primary (`from`) and on the new one (`to`; null when the table is missing there). */
  fromRows: number;
  toRows: number | null;
  /** full mode: rows missing on the new primary, extra there, or changed (totals over the narrowed chunks). */
  missing?: number;
  extra?: number;
  changed?: number;
}

export interface SnapshotCheckResult {
  mode: VerifyMode;
  /** True when every table is equal in the two snapshots. False on a mismatch or when the check could not run. */
  ok: boolean;
  tables: number;
  mismatched: MismatchedTable[];
  /** Set when the check could not run (connection lost, snapshot gone): nothing is known, which is not a mismatch. */
  error?: string;
  ms: number;
}

/** Before the freeze: the two sessions that will export the snapshots. */
export async function openSnapshotHolders(from: ConnInfo, to: ConnInfo): Promise<SnapshotHolders> {
  // application_name starting with pgshift: the freeze does not end these sessions.
  const fromClient = await connect(from, { applicationName: 'pgshift-snapshot' });
  try {
    const toClient = await connect(to, { applicationName: 'pgshift-snapshot' });
    return { from: fromClient, to: toClient };
  } catch (err) {
    await fromClient.end().catch(() => undefined);
    throw err;
  }
}

/**
 * Inside the freeze, after the new primary applied the old one's LSN and before anything can
 * write to either side: both sides' snapshots now show the same data.
 */
export async function exportSnapshots(h: SnapshotHolders): Promise<SnapshotIds> {
  const exportOne = async (c: pg.Client) => {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    return (await c.query<{ id: string }>('SELECT pg_catalog.pg_export_snapshot() AS id')).rows[0].id;
  };
  const [source, target] = await Promise.all([exportOne(h.from), exportOne(h.to)]);
  return { source, target };
}

export async function closeSnapshotHolders(h: SnapshotHolders | undefined): Promise<void> {
  if (!h) return;
  await Promise.all([h.from.end(), h.to.end()].map((p) => p.catch(() => undefined)));
}

export interface SnapshotCheckOptions {
  from: ConnInfo;
  to: ConnInfo;
  snapshots: SnapshotIds;
  mode: VerifyMode;
  log: Logger;
}

/** After resuming: compare the two sides as they were at the switch point. Never throws; an error is a result. */
export async function checkInSnapshots(opts: SnapshotCheckOptions): Promise<SnapshotCheckResult> {
  const started = Date.now();
  try {
    const report = await runVerify({
      source: opts.from,
      target: opts.to,
      mode: opts.mode,
      // No recheck: nothing moves inside a snapshot, so a difference is a difference.
      rechecks: 0,
      rowsOnly: true,
      snapshots: opts.snapshots,
      log: opts.log,
    });
    const mismatched = report.tables
      .filter((t) => t.verdict !== 'equal')
      .map(
        (t): MismatchedTable => ({
          table: relationKey(t.table),
          fromRows: t.sourceRows,
          toRows: t.targetRows,
          ...(t.differences
            ? { missing: t.differences.missingOnTarget, extra: t.differences.extraOnTarget, changed: t.differences.changed }
            : {}),
        }),
      );
    return { mode: opts.mode, ok: mismatched.length === 0, tables: report.tables.length, mismatched, ms: Date.now() - started };
  } catch (err) {
    const error = redact((err as Error)?.message ?? String(err));
    return { mode: opts.mode, ok: false, tables: 0, mismatched: [], error, ms: Date.now() - started };
  }
}

/** One line per result, for logs, summaries and the rehearsal report. */
export function describeSnapshotCheck(r: SnapshotCheckResult | undefined): string {
  if (!r) return 'skipped (--verify none)';
  if (r.error) return `could not run (${r.error}) after ${r.ms} ms`;
  if (r.ok) return `${r.tables} tables equal at the switch point (${r.mode}, ${r.ms} ms after resuming)`;
  return `MISMATCH in ${r.mismatched.length} of ${r.tables} tables at the switch point: ${describeMismatches(r.mismatched)}`;
}

export function describeMismatches(tables: MismatchedTable[]): string {
  return tables
    .map((t) => {
      const rows = `${t.fromRows} rows on the old primary, ${t.toRows ?? 'missing'} on the new one`;
      const keys = t.missing !== undefined ? `; ${t.missing} missing, ${t.extra} extra, ${t.changed} changed` : '';
      return `${t.table} (${rows}${keys})`;
    })
    .join(', ');
}

/** The failure a mismatch becomes (exit 1), with what the operator does next. */
export function mismatchFailure(r: SnapshotCheckResult, rolledBack: boolean): ReturnType<typeof checkFailed> {
  return checkFailed(
    `the after-resume check found the two sides different at the switch point: ${describeMismatches(r.mismatched)}`,
    rolledBack
      ? 'rolled back to the old primary (lossless); find why the rows differ (runbooks/cutover.md), then cut over again'
      : 'see runbooks/cutover.md: decide rollback (lossless) or repair the rows on the new primary',
  );
}
