/**
 * Hold a subscriber's apply inside the write freeze, and only there, so a test can signal or kill a
 * cutover while it waits with writes frozen. A lock on an application table would not do: the cutover's
 * pre-check commits a marker of its own and refuses, with nothing frozen, a link that cannot apply it
 * (switchover.ts, proveTheLinkApplies). So the hold is on the marker table, by count: the markers the
 * publisher has committed so far (an earlier switch's may still be on their way) and the next one (the
 * pre-check's) are applied, the one after it (committed inside the freeze, step 3) waits for an advisory
 * lock this session holds, inside the apply worker's own transaction, until `release`. Markers are
 * applied in commit order, so the subscriber's count when a marker arrives says which one it is.
 *
 * The trigger is ENABLE ALWAYS so the apply worker fires it; it stays on the subscriber afterwards and
 * does nothing once the lock is gone. No lock timing: the subscriber stops at a row, not after a sleep.
 */
import pg from 'pg';
import { MARKER_SCHEMA, MARKER_TABLE } from '../../src/engine/replication/marker.js';
import { ident, literal, qualified } from '../../src/postgres/sql.js';

/** An advisory lock key of the tests' own. */
const HOLD_KEY = 7_340_517;

export interface ApplyHold {
  release(): Promise<void>;
}

export async function holdApplyInsideFreeze(publisherUrl: string, subscriberUrl: string): Promise<ApplyHold> {
  const marker = qualified(MARKER_SCHEMA, MARKER_TABLE);
  const publisher = new pg.Client(publisherUrl);
  await publisher.connect();
  const committed = await publisher
    .query<{ n: number }>(`SELECT count(*)::int AS n FROM ${marker}`)
    .then((r) => r.rows[0]!.n)
    .finally(() => publisher.end());
  const c = new pg.Client(subscriberUrl);
  c.on('error', () => undefined);
  await c.connect();
  try {
    const fn = qualified(MARKER_SCHEMA, 'test_hold_freeze_marker');
    // The count to let through travels as the function's own setting: the apply worker cannot see a session's.
    await c.query(
      `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql
         SET pgshift_test.markers_to_pass = ${literal(String(committed + 1))} AS $$
       BEGIN
         IF (SELECT count(*) FROM ${marker}) >= current_setting('pgshift_test.markers_to_pass')::int THEN
           PERFORM pg_advisory_xact_lock_shared(${HOLD_KEY});
         END IF;
         RETURN NEW;
       END $$`,
    );
    await c.query(`CREATE OR REPLACE TRIGGER test_hold_freeze_marker BEFORE INSERT ON ${marker} FOR EACH ROW EXECUTE FUNCTION ${fn}()`);
    await c.query(`ALTER TABLE ${marker} ENABLE ALWAYS TRIGGER ${ident('test_hold_freeze_marker')}`);
    await c.query('SELECT pg_advisory_lock($1)', [HOLD_KEY]);
  } catch (err) {
    await c.end().catch(() => undefined);
    throw err;
  }
  return {
    release: async () => {
      await c.query('SELECT pg_advisory_unlock($1)', [HOLD_KEY]).catch(() => undefined);
      await c.end().catch(() => undefined);
    },
  };
}
