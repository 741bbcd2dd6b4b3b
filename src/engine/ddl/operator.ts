/**
 * What the operator's commands run: `cdc ddl` (list, then add new tables to the subscription),
 * `cdc ddl resolve`, and `ddl unfreeze` after cutover.
 */
import type pg from 'pg';
import { usageError } from '../../errors.js';
import { connect } from '../../postgres/connect.js';
import { describe, type ConnInfo } from '../../postgres/conninfo.js';
import type { Logger } from '../../log/logger.js';
import type { MigrationNames } from '../names.js';
import { ddlFrozen, unfreezeDdl } from './freeze.js';
import { listDdl, resolveDdl, type DdlListing, type Resolution } from './log.js';
import { refreshNewTables, type RefreshResult } from './refresh.js';

interface Sides {
  source: ConnInfo;
  target: ConnInfo;
  names: MigrationNames;
  log: Logger;
}

export interface DdlReport extends DdlListing {
  refresh: RefreshResult | null;
}

export async function ddlReport(opts: Sides & { refresh: boolean }): Promise<DdlReport> {
  const source = await connect(opts.source);
  try {
    const target = await connect(opts.target);
    try {
      if (!(await source.query(`SELECT to_regclass('_pgshift.ddl_log') IS NOT NULL AS ok`)).rows[0].ok)
        throw usageError(
          `no DDL capture on the ${describe(opts.source)}`,
          `it is installed by 'pgshift full-load' (or 'pgshift cdc start --ddl replay')`,
        );
      if (!opts.refresh) return { ...(await listDdl(source, target, opts.names.subscription)), refresh: null };
      const { listing, refresh } = await addNewTables(source, target, opts);
      return { ...listing, refresh };
    } finally {
      await target.end().catch(() => undefined);
    }
  } finally {
    await source.end().catch(() => undefined);
  }
}

/**
 * The one refresh path of `cdc ddl` and `cdc status --watch`: new tables are added to the
 * subscription (refresh.ts) while it runs and does not stand on a DDL stop. A stop is resolved
 * first: the tables after it wait for that.
 */
export async function addNewTables(
  source: pg.Client,
  target: pg.Client,
  opts: Sides,
): Promise<{ listing: DdlListing; refresh: RefreshResult | null }> {
  const listing = await listDdl(source, target, opts.names.subscription);
  if (!listing.subscriptionEnabled || listing.stoppedOn) return { listing, refresh: null };
  const refresh = await refreshNewTables(source, opts.source, target, opts.names, opts.log);
  return { listing: await listDdl(source, target, opts.names.subscription), refresh };
}

export async function resolveDdlCommand(opts: Sides & { id: number; resolution: Resolution }): Promise<{ id: number; class: string }> {
  const source = await connect(opts.source);
  try {
    const target = await connect(opts.target);
    try {
      const klass = await resolveDdl(source, target, opts.id, opts.resolution);
      opts.log.info(
        `DDL #${opts.id} resolved (${opts.resolution.markApplied ? 'marked applied' : 'replaced by the given SQL'}); the apply worker's next retry uses it (if the subscription is disabled, 'pgshift cdc start --name ${opts.names.name}' enables it again)`,
      );
      return { id: opts.id, class: klass };
    } finally {
      await target.end().catch(() => undefined);
    }
  } finally {
    await source.end().catch(() => undefined);
  }
}

/**
 * After cutover the new primary refuses DDL: a schema change there breaks the reverse
 * replication that makes rollback lossless. Lifting it needs --accept-no-rollback.
 */
export async function unfreezeAfterCutover(opts: {
  server: ConnInfo;
  acceptNoRollback: boolean;
  log: Logger;
}): Promise<{ lifted: boolean }> {
  if (!opts.acceptNoRollback)
    throw usageError(
      'DDL on the new primary breaks the reverse replication that makes rollback lossless',
      're-run with --accept-no-rollback once rollback is no longer needed (or after pgshift cleanup)',
    );
  const client = await connect(opts.server);
  try {
    if (!(await ddlFrozen(client))) return { lifted: false };
    const lifted = await unfreezeDdl(client);
    opts.log.warn(
      `DDL unfrozen on the ${describe(opts.server)}: a schema change now breaks the reverse replication (no lossless rollback)`,
    );
    return { lifted };
  } finally {
    await client.end().catch(() => undefined);
  }
}
