/**
 * The DDL step of full-load, with its undo. Before the slot exists: freeze DDL for the length of
 * the copy (its snapshot workers would block DDL anyway, and a refused statement fails at once
 * instead of queueing the application behind it), and with --ddl replay install the capture, so
 * every DDL after the slot's snapshot is in the log the subscription carries.
 */
import { withClient } from '../../postgres/connect.js';
import type { ConnInfo } from '../../postgres/conninfo.js';
import { installDdlCapture, removeDdlCapture } from './capture.js';
import { freezeDdl, unfreezeDdl } from './freeze.js';
import type { DdlMode } from './mode.js';

export interface LoadDdlGuard {
  froze: boolean;
  installedCapture: boolean;
}

export async function guardDdlForLoad(source: ConnInfo, mode: DdlMode): Promise<LoadDdlGuard> {
  if (mode === 'off') return { froze: false, installedCapture: false };
  return withClient(source, async (c) => {
    const froze = await freezeDdl(c, 'pgshift full-load is copying this database: schema changes wait until it ends');
    try {
      const installedCapture = mode === 'replay' ? await installDdlCapture(c) : false;
      return { froze, installedCapture };
    } catch (err) {
      if (froze) await unfreezeDdl(c).catch(() => undefined);
      throw err;
    }
  });
}

/** After the copy: lift the freeze this run set. */
export async function liftLoadFreeze(source: ConnInfo, guard: LoadDdlGuard): Promise<void> {
  if (guard.froze) await withClient(source, (c) => unfreezeDdl(c));
}

/** Undo on failure: the freeze, and the capture when this run installed it. */
export async function undoDdlGuard(source: ConnInfo, guard: LoadDdlGuard): Promise<void> {
  await withClient(source, async (c) => {
    if (guard.froze) await unfreezeDdl(c);
    if (guard.installedCapture) await removeDdlCapture(c);
  }).catch(() => undefined);
}
