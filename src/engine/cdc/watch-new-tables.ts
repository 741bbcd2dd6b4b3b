/**
 * `cdc status --watch` adds tables created on the source to the subscription, as `cdc ddl`
 * does and through the same function (ddl/operator.ts addNewTables): a captured CREATE TABLE
 * (or a derived one, or a detached partition) is published at once, but its rows are skipped
 * until a REFRESH adds it, so a watch that is running anyway does it within one interval.
 */
import type pg from 'pg';
import { PgshiftError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { ConnInfo } from '../../postgres/conninfo.js';
import { redact } from '../../postgres/redact.js';
import type { RelationName } from '../../postgres/sql.js';
import { addNewTables, newPublishedTables, sourceHasDdlLog } from '../ddl/index.js';
import type { MigrationNames } from '../names.js';

export interface WatchNewTables {
  /** Added with their rows copied, each `ready` when reported. */
  added: RelationName[];
  /** Added without a copy (detached partitions, whose rows were already on the target). */
  addedWithoutCopy: RelationName[];
  /** Published, not on the target yet (their CREATE is not applied yet). */
  waiting: RelationName[];
  /** Replication stands on this DDL; new tables wait for its resolution. */
  stoppedOn: number | null;
  /** Why the refresh did not run (e.g. a new table already holds rows on the target). */
  error?: string;
}

/** undefined when there is nothing to add (or no DDL capture): the common case, two catalog queries. */
export async function addNewTablesDuringWatch(
  source: pg.Client,
  target: pg.Client,
  opts: { source: ConnInfo; target: ConnInfo; names: MigrationNames; log: Logger },
): Promise<WatchNewTables | undefined> {
  if (!(await sourceHasDdlLog(source))) return undefined;
  if (!(await newPublishedTables(source, target, opts.names)).length) return undefined;
  const none: WatchNewTables = { added: [], addedWithoutCopy: [], waiting: [], stoppedOn: null };
  try {
    const { listing, refresh } = await addNewTables(source, target, opts);
    return {
      added: refresh?.added ?? [],
      addedWithoutCopy: refresh?.addedWithoutCopy ?? [],
      waiting: refresh?.waiting ?? [],
      stoppedOn: listing.stoppedOn?.id ?? null,
    };
  } catch (err) {
    return { ...none, error: err instanceof PgshiftError ? err.oneLine() : redact((err as Error)?.message ?? String(err)) };
  }
}
