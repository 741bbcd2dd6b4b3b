/**
 * What the cutover's "wait for zero lag" promises, on real servers, in both directions (15 -> 17 as at
 * cutover, 17 -> 15 as at rollback): once the native engine's appliedPast says `reached`, every row
 * the publisher acknowledged before the position it was given is visible on the subscriber (a
 * ledger of acknowledged inserts, checked row by row). Both servers run synchronous_commit = off, so
 * an acknowledged commit may not even be flushed on the publisher yet — the hard case.
 *   - under live writes that keep going during the wait;
 *   - on an idle publisher whose last transaction was long before, with only non-transactional WAL after it
 *     (there the subscriber used to report its position only after its own WAL writer ran);
 *   - not reached while the subscriber cannot apply a committed row (a lock held on it), reached once it can;
 *   - a subscription that does not apply the marker table (made before it existed) is refused before
 *     any marker is written, and the fix the message gives works.
 * No timing margins: every wait in here is for a condition, with a limit only so a bug cannot hang the run.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preparePublisher, subscribe, unsubscribe } from '../../src/engine/cutover/replication-link.js';
import type { Link } from '../../src/engine/replication/engine.js';
import { MARKER_SCHEMA, MARKER_TABLE, ensureMarkerTable } from '../../src/engine/replication/marker.js';
import { NativeEngine } from '../../src/engine/replication/native.js';
import { PgshiftError } from '../../src/errors.js';
import { connect } from '../../src/postgres/connect.js';
import { currentWalLsn } from '../../src/postgres/lsn.js';
import { freshPair, type TestPair } from '../support/databases.js';

const engine = new NativeEngine();
const markerTable = `${MARKER_SCHEMA}.${MARKER_TABLE}`;
let pair: TestPair;

beforeAll(async () => {
  pair = await freshPair('pgshift_applied_past');
  for (const run of [pair.src, pair.tgt]) await run('CREATE TABLE ledger (id bigint PRIMARY KEY, note text NOT NULL)');
});

afterAll(async () => {
  await pair?.drop();
});

/** Poll `check` until it holds; the limit only keeps a bug from hanging the run. */
async function until(what: string, check: () => Promise<boolean>, limitMs = 60_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function streaming(subscriber: pg.Client, subscription: string): Promise<boolean> {
  const r = await subscriber.query(`SELECT 1 FROM pg_stat_subscription WHERE subname = $1 AND relid IS NULL AND pid IS NOT NULL`, [
    subscription,
  ]);
  return (r.rowCount ?? 0) > 0;
}

async function applyErrors(subscriber: pg.Client, subscription: string): Promise<number> {
  const r = await subscriber.query<{ n: number }>(`SELECT apply_error_count::int AS n FROM pg_stat_subscription_stats WHERE subname = $1`, [
    subscription,
  ]);
  return r.rows[0]?.n ?? 0;
}

/** Ids of `ids` missing on the subscriber. */
async function missingOn(subscriber: pg.Client, ids: number[]): Promise<number[]> {
  const r = await subscriber.query<{ id: string }>(
    'SELECT x::text AS id FROM unnest($1::bigint[]) x WHERE x NOT IN (SELECT id FROM ledger)',
    [ids],
  );
  return r.rows.map((x) => Number(x.id));
}

/** An application writing to the publisher: one insert per round trip, each id recorded once acknowledged. */
function startWriter(url: string, firstId: number) {
  const acknowledged: number[] = [];
  let stop = false;
  const done = (async () => {
    const c = new pg.Client(url);
    c.on('error', () => undefined);
    await c.connect();
    try {
      for (let id = firstId; !stop; id++) {
        await c.query(`INSERT INTO ledger VALUES ($1, 'live')`, [id]);
        acknowledged.push(id);
      }
    } finally {
      await c.end();
    }
  })();
  return {
    acknowledged,
    stop: async () => {
      stop = true;
      await done;
    },
  };
}

const directions = [
  { label: 'source (15) -> target (17), as at cutover', from: 'source', firstId: 1_000_000 },
  { label: 'target (17) -> source (15), as at rollback', from: 'target', firstId: 2_000_000 },
] as const;

// In sequence: a 15 subscriber cannot ask a 17 publisher to leave out replicated rows (origin = none),
// so the two directions never run at once, exactly as cutover drops one link before it starts the other.
describe.sequential.each(directions)('appliedPast, $label', ({ from, firstId }) => {
  let publisher: pg.Client;
  let subscriber: pg.Client;
  let link: Link;
  let nextId = firstId;
  const publisherUrl = () => (from === 'source' ? pair.sourceUrl : pair.targetUrl);

  beforeAll(async () => {
    const [pubInfo, subInfo] = from === 'source' ? [pair.source, pair.target] : [pair.target, pair.source];
    publisher = await connect(pubInfo, { applicationName: 'pgshift-test' });
    subscriber = await connect(subInfo, { applicationName: 'pgshift-test' });
    const tag = from === 'source' ? 'fwd' : 'rev';
    link = {
      names: { publication: `ap_${tag}_pub`, slot: `ap_${tag}_slot`, subscription: `ap_${tag}_sub` },
      publisher,
      subscriber,
      publisherInfo: pubInfo,
      subscriberInfo: subInfo,
      publisherFromSubscriber: pubInfo,
      direction: from === 'source' ? 'forward' : 'reverse',
    };
    await engine.prepare(link);
    await engine.start(link);
    await until('the subscription streams', () => streaming(subscriber, link.names.subscription));
    await engine.readyToSwitch(link);
  });

  afterAll(async () => {
    if (link) await engine.stop(link);
    await Promise.all([publisher?.end(), subscriber?.end()].map((p) => p?.catch(() => undefined)));
  });

  it('under live writes: every row acknowledged before the position is on the subscriber when it says reached', async () => {
    const writer = startWriter(publisherUrl(), nextId);
    try {
      for (let round = 0; round < 8; round++) {
        await until('a few more acknowledged writes', async () => writer.acknowledged.length >= (round + 1) * 20);
        // Acknowledged before the position is read, so committed before it.
        const ledger = [...writer.acknowledged];
        const lsn = await currentWalLsn(publisher);
        const r = await engine.appliedPast(link, lsn, 30_000);
        expect(r.reached).toBe(true);
        expect(await missingOn(subscriber, ledger)).toEqual([]);
      }
    } finally {
      await writer.stop();
      nextId = Math.max(nextId, ...writer.acknowledged) + 1;
    }
    expect(await applyErrors(subscriber, link.names.subscription)).toBe(0);
  });

  it('on an idle publisher, the last transaction long applied and only non-transactional WAL after it: reached, nothing missing', async () => {
    const ledger: number[] = [];
    for (let i = 0; i < 20; i++) {
      await publisher.query(`INSERT INTO ledger VALUES ($1, 'before idle')`, [nextId]);
      ledger.push(nextId++);
    }
    await until('the rows are on the subscriber', async () => (await missingOn(subscriber, ledger)).length === 0);
    // WAL that carries no transaction: a non-transactional logical message, a segment switch, a checkpoint.
    await publisher.query(`SELECT pg_logical_emit_message(false, 'pgshift.test', 'idle')`);
    await publisher.query('SELECT pg_switch_wal()');
    await publisher.query('CHECKPOINT');
    await publisher.query(`SELECT pg_logical_emit_message(false, 'pgshift.test', 'idle again')`);
    const lsn = await currentWalLsn(publisher);
    const r = await engine.appliedPast(link, lsn, 30_000);
    expect(r.reached).toBe(true);
    expect(await missingOn(subscriber, ledger)).toEqual([]);
    // The marker went through like any row: the subscription still streams and never failed.
    expect(await streaming(subscriber, link.names.subscription)).toBe(true);
    expect(await applyErrors(subscriber, link.names.subscription)).toBe(0);
  });

  it('is not reached while the subscriber cannot apply a committed row, and is once it can', async () => {
    const blocker = await connect(link.subscriberInfo, { applicationName: 'pgshift-test-lock' });
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE');
      const id = nextId++;
      await publisher.query(`INSERT INTO ledger VALUES ($1, 'behind a lock')`, [id]);
      const lsn = await currentWalLsn(publisher);
      const held = await engine.appliedPast(link, lsn, 1_500);
      expect(held.reached).toBe(false);
      expect(held.remainingBytes).toBeGreaterThan(0);
      await blocker.query('COMMIT');
      const r = await engine.appliedPast(link, lsn, 30_000);
      expect(r.reached).toBe(true);
      expect(await missingOn(subscriber, [id])).toEqual([]);
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      await blocker.end();
    }
  });
});

describe('a subscription made before the marker table existed', () => {
  let old: TestPair;
  let publisher: pg.Client;
  let subscriber: pg.Client;
  let link: Link;

  beforeAll(async () => {
    old = await freshPair('pgshift_applied_past_old');
    for (const run of [old.src, old.tgt]) await run('CREATE TABLE ledger (id bigint PRIMARY KEY, note text NOT NULL)');
    publisher = await connect(old.source, { applicationName: 'pgshift-test' });
    subscriber = await connect(old.target, { applicationName: 'pgshift-test' });
    const names = { publication: 'old_pub', slot: 'old_slot', subscription: 'old_sub' };
    link = {
      names,
      publisher,
      subscriber,
      publisherInfo: old.source,
      subscriberInfo: old.target,
      publisherFromSubscriber: old.source,
      direction: 'forward',
    };
    // What an older cdc start made: publication, slot and subscription, no marker table anywhere.
    await preparePublisher(publisher, names);
    await subscribe(subscriber, names, old.source);
    await until('the subscription streams', () => streaming(subscriber, names.subscription));
  });

  afterAll(async () => {
    if (link) await unsubscribe(subscriber, publisher, link.names).catch(() => undefined);
    await Promise.all([publisher?.end(), subscriber?.end()].map((p) => p?.catch(() => undefined)));
    await old?.drop();
  });

  it('is refused before the freeze with the fix, no marker is written, and after the fix the wait works', async () => {
    const refused = await engine.readyToSwitch(link).catch((e) => e);
    expect(refused).toBeInstanceOf(PgshiftError);
    expect(refused.oneLine()).toMatch(/does not apply pgshift's marker table _pgshift\.replication_marker/);
    expect(refused.oneLine()).toMatch(/ALTER SUBSCRIPTION "old_sub" REFRESH PUBLICATION/);
    // Inside the freeze the same check stops the wait before it writes a marker the subscriber would choke on.
    await expect(engine.appliedPast(link, await currentWalLsn(publisher), 5_000)).rejects.toThrow(/does not apply pgshift's marker table/);
    expect((await publisher.query(`SELECT count(*)::int AS n FROM ${markerTable}`)).rows[0].n).toBe(0);
    await publisher.query(`INSERT INTO ledger VALUES (1, 'still replicating')`);
    await until('replication still runs', async () => (await missingOn(subscriber, [1])).length === 0);

    // The fix the message gives (readyToSwitch made the table on both sides already).
    expect(await ensureMarkerTable(subscriber)).toBe(false);
    await subscriber.query('ALTER SUBSCRIPTION old_sub REFRESH PUBLICATION');
    await until('the marker table is copied', async () => {
      const r = await subscriber.query(`SELECT srsubstate FROM pg_subscription_rel WHERE srrelid = to_regclass($1)`, [markerTable]);
      return r.rows[0]?.srsubstate === 'r';
    });
    await engine.readyToSwitch(link);
    await publisher.query(`INSERT INTO ledger VALUES (2, 'after the fix')`);
    const r = await engine.appliedPast(link, await currentWalLsn(publisher), 30_000);
    expect(r.reached).toBe(true);
    expect(await missingOn(subscriber, [1, 2])).toEqual([]);
  });
});
