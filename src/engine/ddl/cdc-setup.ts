/**
 * The DDL part of `cdc start`, one step with its undo (docs/design.md rule 6).
 *
 *   replay  the target gets _pgshift.ddl_log with the replay trigger; a stop makes the apply
 *           worker retry its transaction until resolved (disable_on_error is not forced: it
 *           also disables the subscription when the source restarts, see start.ts)
 *   freeze  DDL on the source is refused while CDC runs
 *   off     the target only gets the log table (the publication carries it regardless)
 *
 * The capture itself is installed by full-load before its slot. When it is missing (an older
 * full-load, or --cdc-strategy subscription-copy) replay installs it now and says that DDL made
 * between the snapshot and now was not captured.
 */
import type pg from 'pg';
import { describe, type ConnInfo } from '../../postgres/conninfo.js';
import type { Logger } from '../../log/logger.js';
import { captureInstalled, installDdlCapture, removeDdlCapture } from './capture.js';
import { freezeDdl, unfreezeDdl } from './freeze.js';
import type { DdlMode } from './mode.js';
import { installDdlReplay, removeDdlReplay, sourceHasDdlLog } from './replay.js';

export interface DdlSetup {
  mode: DdlMode;
  /** What this run created, so the undo removes exactly that (docs/design.md rule 13). */
  createdTargetSchema: boolean;
  installedCapture: boolean;
  froze: boolean;
}

export async function prepareDdl(
  source: pg.Client,
  target: pg.Client,
  mode: DdlMode,
  strategy: 'slot' | 'subscription-copy',
  sourceInfo: ConnInfo,
  log: Logger,
): Promise<DdlSetup> {
  const setup: DdlSetup = { mode, createdTargetSchema: false, installedCapture: false, froze: false };
  try {
    if (mode === 'replay' && !(await captureInstalled(source))) {
      setup.installedCapture = await installDdlCapture(source);
      if (strategy === 'slot')
        log.warn(
          `the DDL capture was not installed on the ${describe(sourceInfo)} by full-load; installed now: schema changes made since full-load's snapshot were not captured (verify's schema diff shows them)`,
        );
    }
    if (await sourceHasDdlLog(source)) {
      setup.createdTargetSchema = await installDdlReplay(target, mode === 'replay');
      if (strategy === 'subscription-copy') await markCapturedAsApplied(source, target);
    }
    if (mode === 'freeze')
      setup.froze = await freezeDdl(source, 'pgshift cdc start --ddl freeze: schema changes are refused while CDC runs');
    return setup;
  } catch (err) {
    await undoPrepareDdl(source, target, setup);
    throw err;
  }
}

/** Returns what it removed that this run had created, for the abort path's one line (docs/design.md rule 13). */
export async function undoPrepareDdl(source: pg.Client, target: pg.Client, setup: DdlSetup): Promise<string[]> {
  const undone: string[] = [];
  if (
    setup.froze &&
    (await unfreezeDdl(source).then(
      () => true,
      () => false,
    ))
  )
    undone.push('the DDL freeze on the source');
  if (
    setup.installedCapture &&
    (await removeDdlCapture(source).then(
      () => true,
      () => false,
    ))
  )
    undone.push('the DDL capture on the source');
  const removedReplay = await removeDdlReplay(target, setup.createdTargetSchema).then(
    () => true,
    () => false,
  );
  if (removedReplay && setup.createdTargetSchema) undone.push('schema _pgshift on the target');
  return undone;
}

/**
 * With subscription-copy the log table is copied like any other, and the replay trigger fires
 * on the copy too: what was captured before is already in the schema-only target's shape.
 */
async function markCapturedAsApplied(source: pg.Client, target: pg.Client): Promise<void> {
  const ids = (await source.query<{ id: string }>('SELECT id::text FROM _pgshift.ddl_log')).rows.map((r) => r.id);
  if (ids.length)
    await target.query(
      `INSERT INTO _pgshift.ddl_applied (id, how, statements) SELECT x::bigint, 'marked-applied', '{}' FROM unnest($1::text[]) x ON CONFLICT DO NOTHING`,
      [ids],
    );
}
