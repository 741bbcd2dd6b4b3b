/**
 * Sessions verify reads through. The text form of a row depends on session settings
 * (a timestamptz prints in the session's TimeZone, a float with extra_float_digits, a
 * bytea in bytea_output, a regclass relative to search_path, money in lc_monetary), so
 * both sides get the same pinned values before any row is hashed; otherwise equal data
 * would hash differently and a difference could hide behind a setting.
 */
import type pg from 'pg';
import { connect } from '../../postgres/connect.js';
import type { ConnInfo } from '../../postgres/conninfo.js';
import { literal } from '../../postgres/sql.js';

export const PINNED_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ['TimeZone', 'UTC'],
  ['DateStyle', 'ISO, MDY'],
  ['IntervalStyle', 'postgres'],
  ['extra_float_digits', '3'],
  ['bytea_output', 'hex'],
  ['lc_monetary', 'C'],
  // Every name verify writes is schema-qualified; pg_catalog alone keeps regclass/regtype output qualified and identical.
  ['search_path', 'pg_catalog'],
  // Grouping row hashes of a table without a key wants memory; this is per session, not server-wide.
  ['work_mem', '64MB'],
];

/** Open a session and pin the settings that shape a row's text form. */
export async function openPinnedSession(info: ConnInfo): Promise<pg.Client> {
  const client = await connect(info, { applicationName: 'pgshift verify' });
  try {
    for (const [name, value] of PINNED_SETTINGS) {
      // set_config takes the value as a bind parameter; the names are our own constants.
      await client.query('SELECT pg_catalog.set_config($1, $2, false)', [name, value]);
    }
    // verify only reads; a read-only session makes sure a bug here can never write to either side.
    await client.query(`SELECT pg_catalog.set_config('default_transaction_read_only', 'on', false)`);
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return client;
}

/** One worker's pair of sessions: it reads a chunk on both sides at the same moment. */
export interface SessionPair {
  source: pg.Client;
  target: pg.Client;
}

/** Snapshots exported by `pg_export_snapshot()` on each side: every session reads the data as it was then. */
export interface SnapshotIds {
  source: string;
  target: string;
}

export async function openSessionPairs(source: ConnInfo, target: ConnInfo, count: number, snapshots?: SnapshotIds): Promise<SessionPair[]> {
  const pairs: SessionPair[] = [];
  const open = async (info: ConnInfo, snapshot: string | undefined) => {
    const client = await openPinnedSession(info);
    if (snapshot)
      await importSnapshot(client, snapshot).catch(async (err) => {
        await client.end().catch(() => undefined);
        throw err;
      });
    return client;
  };
  try {
    for (let i = 0; i < count; i++) {
      const [s, t] = await Promise.allSettled([open(source, snapshots?.source), open(target, snapshots?.target)]);
      if (s.status === 'fulfilled' && t.status === 'fulfilled') {
        pairs.push({ source: s.value, target: t.value });
        continue;
      }
      if (s.status === 'fulfilled') await s.value.end().catch(() => undefined);
      if (t.status === 'fulfilled') await t.value.end().catch(() => undefined);
      throw s.status === 'rejected' ? s.reason : (t as PromiseRejectedResult).reason;
    }
  } catch (err) {
    await closeSessionPairs(pairs);
    throw err;
  }
  return pairs;
}

/**
 * Enter a REPEATABLE READ transaction that sees exactly what the exporting transaction saw. The
 * session stays in it until it is closed; verify issues no transaction control of its own.
 */
async function importSnapshot(client: pg.Client, snapshot: string): Promise<void> {
  // SET TRANSACTION SNAPSHOT takes no bind parameter; the id is the server's own and quoted anyway.
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  await client.query(`SET TRANSACTION SNAPSHOT ${literal(snapshot)}`);
}

export async function closeSessionPairs(pairs: SessionPair[]): Promise<void> {
  await Promise.all(pairs.flatMap((p) => [p.source.end().catch(() => undefined), p.target.end().catch(() => undefined)]));
}

/** Run `work` items on the session pairs, each pair taking the next item when free. */
export async function runOnPairs<T, R>(
  pairs: SessionPair[],
  items: T[],
  work: (pair: SessionPair, item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  await Promise.all(
    pairs.map(async (pair) => {
      // After one failure the other workers stop taking items, so the error surfaces promptly.
      while (!failed && next < items.length) {
        const i = next++;
        try {
          results[i] = await work(pair, items[i], i);
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    }),
  );
  return results;
}
