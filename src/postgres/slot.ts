import type pg from 'pg';
import { checkFailed, connectionError, usageError } from '../errors.js';
import { connect } from './connect.js';
import { describe, type ConnInfo } from './conninfo.js';
import { ident } from './sql.js';

/**
 * A logical replication slot created together with an exported snapshot. The snapshot
 * lives only while `holder` — the walsender connection that created it — stays open and
 * idle, so every copy transaction must `SET TRANSACTION SNAPSHOT` before `release()`.
 */
export interface ExportedSlot {
  slotName: string;
  /** WAL position from which the slot will stream: everything before is in the snapshot. */
  consistentLsn: string;
  snapshotName: string;
  release(): Promise<void>;
}

/**
 * docs/design.md rule 1: create the slot and export its snapshot in one step, so that the
 * copy sees exactly the data before `consistentLsn` and the slot streams exactly what came after.
 */
export async function createSlotWithSnapshot(source: ConnInfo, slotName: string): Promise<ExportedSlot> {
  const holder = await connect(source, { replication: 'database', applicationName: 'pgshift-snapshot' });
  try {
    const version = Number((await holder.query('SHOW server_version_num')).rows[0].server_version_num);
    // PostgreSQL 15 introduced the parenthesised option list; older sources need the old keyword form.
    const command =
      version >= 150000
        ? `CREATE_REPLICATION_SLOT ${ident(slotName)} LOGICAL pgoutput (SNAPSHOT 'export')`
        : `CREATE_REPLICATION_SLOT ${ident(slotName)} LOGICAL pgoutput EXPORT_SNAPSHOT`;
    const res = await holder.query(command);
    const row = res.rows[0];
    return {
      slotName: row.slot_name,
      consistentLsn: row.consistent_point,
      snapshotName: row.snapshot_name,
      release: async () => {
        await holder.end().catch(() => undefined);
      },
    };
  } catch (err) {
    await holder.end().catch(() => undefined);
    const e = err as { code?: string; message?: string };
    if (e.code === '42710')
      throw usageError(
        `replication slot ${slotName} already exists on the ${describe(source)}`,
        `run 'pgshift cleanup' (or cdc stop) first, or pick another --name`,
      );
    if (e.code === '53400')
      throw checkFailed(`no free replication slot on the ${describe(source)}`, 'raise max_replication_slots on the source and restart it');
    if (e.code === '42501')
      throw checkFailed(`the source role ${source.user} may not create replication slots`, `ALTER ROLE ${source.user} WITH REPLICATION;`);
    throw connectionError(`cannot create replication slot ${slotName} on the ${describe(source)}: ${e.message}`);
  }
}

export interface SlotState {
  slotName: string;
  database: string;
  active: boolean;
  activePid: number | null;
  confirmedFlushLsn: string | null;
  restartLsn: string | null;
  /** Bytes of WAL the slot keeps on the source disk. */
  retainedBytes: number;
  walStatus: string | null;
}

export async function readSlot(client: pg.Client, slotName: string): Promise<SlotState | undefined> {
  const res = await client.query(
    `SELECT slot_name, database, active, active_pid, confirmed_flush_lsn::text, restart_lsn::text, wal_status,
            COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint AS retained
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slotName],
  );
  const r = res.rows[0];
  if (!r) return undefined;
  return {
    slotName: r.slot_name,
    database: r.database,
    active: r.active,
    activePid: r.active_pid,
    confirmedFlushLsn: r.confirmed_flush_lsn,
    restartLsn: r.restart_lsn,
    retainedBytes: Number(r.retained),
    walStatus: r.wal_status,
  };
}

/** Drop a slot if it exists; ends the walsender holding it first. Returns whether one was dropped. */
export async function dropSlotIfExists(client: pg.Client, slotName: string): Promise<boolean> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const slot = await readSlot(client, slotName);
    if (!slot) return attempt > 0;
    if (slot.active && slot.activePid) {
      await client.query('SELECT pg_terminate_backend($1)', [slot.activePid]);
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    try {
      await client.query('SELECT pg_drop_replication_slot($1)', [slotName]);
      return true;
    } catch (err) {
      // 55006: the slot became active again between our look and the drop (a subscriber reconnecting).
      if ((err as { code?: string }).code !== '55006') throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw checkFailed(
    `replication slot ${slotName} stays in use and cannot be dropped`,
    `stop the subscriber using it, then SELECT pg_drop_replication_slot('${slotName}') on the source`,
  );
}
