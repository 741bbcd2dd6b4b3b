/**
 * `pgshift cdc start|status|stop --engine dms` (experiment 03): the same phase steps as the native
 * engine's, through the dms engine. start creates and starts the DMS task from full-load's test_decoding
 * slot; status shows the task, its tables, CloudWatch's latency and — the authority — the slot's lag by
 * LSN and its retained WAL (docs/design.md rules 3 and 7); stop removes the task, the slot and the
 * publication full-load made.
 */
import type pg from 'pg';
import type { DmsLatency, DmsTableStat, TaskState } from '../../aws/dms.js';
import { connect } from '../../postgres/connect.js';
import type { ConnInfo } from '../../postgres/conninfo.js';
import { currentWalLsn, lsnDiff } from '../../postgres/lsn.js';
import { readSlot, type SlotState } from '../../postgres/slot.js';
import { ident } from '../../postgres/sql.js';
import type { Logger } from '../../log/logger.js';
import type { MigrationNames } from '../names.js';
import type { DmsEngine } from '../replication/dms.js';
import { type Link, linkBetween } from '../replication/engine.js';

export interface DmsCdcOptions {
  source: ConnInfo;
  target: ConnInfo;
  names: MigrationNames;
  engine: DmsEngine;
  log: Logger;
}

async function withForwardLink<T>(opts: DmsCdcOptions, fn: (link: Link) => Promise<T>): Promise<T> {
  const source = await connect(opts.source, { applicationName: 'pgshift-cdc' });
  let target: pg.Client | undefined;
  try {
    target = await connect(opts.target, { applicationName: 'pgshift-cdc' });
    return await fn(linkBetween('forward', opts.names, { client: source, info: opts.source }, { client: target, info: opts.target }));
  } finally {
    await target?.end().catch(() => undefined);
    await source.end().catch(() => undefined);
  }
}

export interface DmsCdcStartResult {
  engine: 'dms';
  task: string;
  slotName: string;
  seconds: number;
}

export async function startDmsCdc(opts: DmsCdcOptions): Promise<DmsCdcStartResult> {
  const started = Date.now();
  return withForwardLink(opts, async (link) => {
    await opts.engine.start(link);
    const task = opts.engine.taskIdentifier(link);
    opts.log.info(`DMS task ${task} is running from slot ${opts.names.slot}`);
    return { engine: 'dms', task, slotName: opts.names.slot, seconds: (Date.now() - started) / 1000 };
  });
}

export interface DmsCdcStatus {
  engine: 'dms';
  task: TaskState | null;
  tables: DmsTableStat[];
  latency: DmsLatency | null;
  slot: SlotState | null;
  /** Source WAL position minus what DMS confirmed on the slot: the lag pgshift trusts. */
  lagBytes: number | null;
  ok: boolean;
}

export async function dmsCdcStatus(opts: DmsCdcOptions): Promise<DmsCdcStatus> {
  return withForwardLink(opts, async (link) => {
    const details = await opts.engine.details(link);
    const slot = (await readSlot(link.publisher, opts.names.slot)) ?? null;
    const head = await currentWalLsn(link.publisher);
    const lagBytes = slot?.confirmedFlushLsn ? Math.max(0, lsnDiff(head, slot.confirmedFlushLsn)) : null;
    const broken = details.tables.some((t) => /error/i.test(t.state));
    return {
      engine: 'dms',
      task: details.task ?? null,
      tables: details.tables,
      latency: details.latency ?? null,
      slot,
      lagBytes,
      ok: details.task?.status === 'running' && !broken && slot !== null && slot.walStatus !== 'lost',
    };
  });
}

export interface DmsCdcStopResult {
  engine: 'dms';
  removed: string[];
  droppedPublication: boolean;
}

export async function stopDmsCdc(opts: DmsCdcOptions): Promise<DmsCdcStopResult> {
  return withForwardLink(opts, async (link) => {
    const removed = await opts.engine.cleanup(link);
    const pub = await link.publisher.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [opts.names.publication]);
    if (pub.rowCount) await link.publisher.query(`DROP PUBLICATION ${ident(opts.names.publication)}`);
    for (const r of removed) opts.log.info(`removed ${r}`);
    return { engine: 'dms', removed, droppedPublication: Boolean(pub.rowCount) };
  });
}
