/**
 * The DDL step of full-load, with its undo. Before the slot exists: freeze DDL for the length of
 * the copy (its snapshot workers would block DDL anyway, and a refused statement fails at once
 * instead of queueing the application behind it), and with --ddl replay install the capture, so
 * every DDL after the slot's snapshot is in the log the subscription carries. Each is recorded
 * in the run's CreatedByRun, so an abort removes exactly what this run installed
 * (docs/design.md rule 13).
 */
import { withClient } from '../../postgres/connect.js';
import { describe, type ConnInfo } from '../../postgres/conninfo.js';
import type { CreatedByRun } from '../created-by-run.js';
import { installDdlCapture, removeDdlCapture } from './capture.js';
import { CAPTURE_EVENT_TRIGGERS } from './capture-sql.js';
import { freezeDdl, unfreezeDdl } from './freeze.js';
import { FREEZE_EVENT_TRIGGERS } from './freeze-sql.js';
import type { DdlMode } from './mode.js';

export interface LoadDdlGuard {
  froze: boolean;
  installedCapture: boolean;
}

const dropByHand = (names: readonly string[]) => names.map((n) => `DROP EVENT TRIGGER IF EXISTS ${n};`).join(' ');

export async function guardDdlForLoad(source: ConnInfo, mode: DdlMode, created: CreatedByRun): Promise<LoadDdlGuard> {
  if (mode === 'off') return { froze: false, installedCapture: false };
  return withClient(source, async (c) => {
    const why = 'pgshift full-load is copying this database: schema changes wait until it ends';
    // A freeze left by a killed full-load (SIGKILL runs no undo) is taken over, so this run lifts it.
    const leftByKilledRun =
      (await c.query(`SELECT obj_description(to_regnamespace('_pgshift'), 'pg_namespace') AS why`)).rows[0]?.why === why;
    const froze = (await freezeDdl(c, why)) || leftByKilledRun;
    if (froze)
      created.record({
        what: `DDL freeze on the ${describe(source)}`,
        undo: () => withClient(source, async (u) => void (await unfreezeDdl(u))),
        byHand: dropByHand(FREEZE_EVENT_TRIGGERS),
      });
    const installedCapture = mode === 'replay' ? await installDdlCapture(c) : false;
    if (installedCapture)
      created.record({
        what: `DDL capture on the ${describe(source)}`,
        undo: () => withClient(source, (u) => removeDdlCapture(u)),
        byHand: dropByHand(CAPTURE_EVENT_TRIGGERS),
      });
    return { froze, installedCapture };
  });
}

/** After the copy: lift the freeze this run set. */
export async function liftLoadFreeze(source: ConnInfo, guard: LoadDdlGuard): Promise<void> {
  if (guard.froze) await withClient(source, (c) => unfreezeDdl(c));
}
