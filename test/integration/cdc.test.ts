/**
 * CDC end to end on the real test servers (PostgreSQL 15 → 17): the full-load hand-over while the
 * source takes writes, cdc start from that slot, every kind of change the Tasteam schema can see,
 * then an independent comparison of every table, status under catch-up and under a paused
 * subscription, and a clean stop.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cdcStatus, startCdc, stopCdc, type StartCdcResult } from '../../src/engine/cdc/index.js';
import { migrationNames } from '../../src/engine/names.js';
import { connect } from '../../src/postgres/connect.js';
import { compareLsn, currentWalLsn, waitForApplied } from '../../src/postgres/lsn.js';
import { silentLogger } from '../../src/log/logger.js';
import { runFullLoad } from '../../src/engine/full-load/full-load.js';
import { loadFixture } from '../../src/rehearse/fixture/load.js';
import { freshPair, type TestPair } from '../support/databases.js';
import { fingerprints, leafTables, sleep } from './cdc-support.js';

const names = migrationNames('cdc_main');
let pair: TestPair;

/** Writes single-row transactions with unique markers until stopped: the rows that race the copy. */
function startRacingWriter(url: string) {
  let stop = false;
  let written = 0;
  const done = (async () => {
    const c = new pg.Client(url);
    c.on('error', () => undefined);
    await c.connect();
    while (!stop) {
      written++;
      await c.query(
        `INSERT INTO analytics.event_log (occurred_at, member_id, event_type, properties) VALUES (now(), $1::bigint, 'racer', jsonb_build_object('n', $1::bigint))`,
        [written],
      );
      await c.query(
        `INSERT INTO public.review (restaurant_id, member_id, content, is_recommended) VALUES (1, 1, 'racer ' || $1::int, true)`,
        [written],
      );
    }
    await c.end();
  })();
  return {
    /** Resolve once `n` rows more than now have been committed: the racer is observed writing, no sleep guessed. */
    writes: async (n: number) => {
      const goal = written + n;
      while (written < goal) await sleep(5);
    },
    stop: async () => {
      stop = true;
      await done;
      return written;
    },
  };
}

/** INSERT, UPDATE, DELETE and TRUNCATE over every hard case the fixture has. */
async function mixedChanges(src: TestPair['src']): Promise<void> {
  // TOAST: new big values, big values rewritten, and rows whose big value is left unchanged.
  await src(
    `INSERT INTO public.review (restaurant_id, member_id, content, is_recommended) SELECT 2, 3, repeat('토스트 ', 1500) || i, false FROM generate_series(1, 20) i`,
  );
  await src(`UPDATE public.review SET is_recommended = NOT is_recommended WHERE id % 97 = 0`);
  await src(`UPDATE public.review SET content = repeat('x', 6000) || id WHERE id % 50 = 1`);
  await src(`DELETE FROM public.review WHERE id % 11 = 0`);
  // The no-key table with REPLICA IDENTITY FULL, duplicates included.
  await src(`UPDATE analytics.event_log SET event_type = 'updated' WHERE member_id % 5 = 0`);
  await src(`DELETE FROM analytics.event_log WHERE member_id % 7 = 0`);
  await src(`DELETE FROM analytics.event_log WHERE event_type = 'racer' AND (properties->>'n')::int % 3 = 0`);
  // Partitioned table: inserts into several partitions, a row moved across partitions, deletes.
  await src(
    `INSERT INTO public.chat_message (chat_room_id, member_id, content, created_at) SELECT 1, 2, 'cdc ' || i, timestamptz '2026-01-10 00:00+00' + i * interval '9 days' FROM generate_series(1, 15) i`,
  );
  await src(`UPDATE public.chat_message SET created_at = created_at + interval '31 days', content = 'moved' WHERE id % 13 = 0`);
  await src(`DELETE FROM public.chat_message WHERE id % 17 = 0`);
  // Text key with a Korean name, and an update of the key itself.
  await src(`UPDATE public."리뷰 태그" SET "표시 이름" = "표시 이름" || ' (수정)' WHERE sort_order % 2 = 0`);
  await src(`INSERT INTO public."리뷰 태그" ("태그 코드", "표시 이름") VALUES ('NEW', '새 태그')`);
  await src(`UPDATE public."리뷰 태그" SET "태그 코드" = 'NEWER' WHERE "태그 코드" = 'NEW'`);
  // Composite keys.
  await src(`UPDATE public.group_member SET role = 'ADMIN' WHERE member_id % 9 = 0`);
  await src(`DELETE FROM public.group_member WHERE member_id % 10 = 0`);
  // TRUNCATE, then new rows, in a table with quoted mixed-case names.
  await src(`TRUNCATE analytics."MixedCase Table"`);
  await src(
    `INSERT INTO analytics."MixedCase Table" ("Day", "RestaurantId", "viewCount", "weird ""quoted"" col") SELECT date '2026-02-01', i, i * 3, 'after truncate' FROM generate_series(1, 25) i`,
  );
  // jsonb and bytea.
  await src(`UPDATE public.member SET profile = profile || '{"cdc": true}', avatar = decode('deadbeef', 'hex') WHERE id % 4 = 1`);
}

async function sourceLsn(): Promise<string> {
  const c = await connect(pair.source);
  try {
    return await currentWalLsn(c);
  } finally {
    await c.end();
  }
}

async function slotsOf(database: string, side: TestPair['src']): Promise<string[]> {
  return (await side(`SELECT slot_name FROM pg_replication_slots WHERE database = $1`, [database])).rows.map((r) => r.slot_name);
}

describe('cdc start / status / stop on a live source', () => {
  let started: StartCdcResult;
  let copiedRacers = 0;
  let racersWritten = 0;

  beforeAll(async () => {
    pair = await freshPair('pgshift_cdc_main');
    const s = await connect(pair.source);
    await loadFixture(s, { rows: 400 });
    await s.end();
  });

  afterAll(async () => {
    await pair?.drop();
  });

  it("hands over from full-load's copy to the stream with nothing lost or applied twice while the source takes writes", async () => {
    const racer = startRacingWriter(pair.sourceUrl);
    // Rows before the snapshot (copied), rows after it and before cdc start (streamed from the slot),
    // rows after cdc start: each observed, none left to a guessed sleep.
    await racer.writes(20);
    await runFullLoad({ source: pair.source, target: pair.target, names, jobs: 2, log: silentLogger });
    copiedRacers = Number((await pair.tgt(`SELECT count(*) AS n FROM analytics.event_log WHERE event_type = 'racer'`)).rows[0].n);
    await racer.writes(20);
    started = await startCdc({
      source: pair.source,
      target: pair.target,
      names,
      strategy: 'slot',
      createHelperIndexes: true,
      log: silentLogger,
    });
    await racer.writes(20);
    racersWritten = await racer.stop();

    await mixedChanges(pair.src);
    const lsn = await sourceLsn();
    const applied = await waitForApplied({ source: pair.source, slotName: names.slot, lsn, timeoutMs: 30_000 });
    expect(applied.reached).toBe(true);

    // Some racing rows came through the copy, the rest only through the stream.
    expect(copiedRacers).toBeGreaterThan(0);
    expect(copiedRacers).toBeLessThan(racersWritten);
    // Exactly once: every marker is on the target once (event_log has no key to stop a duplicate).
    const dup = await pair.tgt(
      `SELECT properties->>'n' AS n, count(*) FROM analytics.event_log WHERE event_type = 'racer' GROUP BY 1 HAVING count(*) > 1`,
    );
    expect(dup.rows).toEqual([]);
    const reviewsByRacer = await pair.tgt(
      `SELECT count(*)::int AS n, count(DISTINCT content)::int AS d FROM public.review WHERE content LIKE 'racer %'`,
    );
    expect(reviewsByRacer.rows[0].n).toBe(reviewsByRacer.rows[0].d);

    const c = await connect(pair.source);
    const tables = await leafTables(c);
    await c.end();
    const [src, tgt] = await Promise.all([fingerprints(pair.sourceUrl, tables), fingerprints(pair.targetUrl, tables)]);
    expect(tgt).toEqual(src);
    expect(src.find((f) => f.table === 'analytics.event_log')!.rows).toBeGreaterThan(100);
  });

  it("started from full-load's slot with the options the servers support, and indexed the REPLICA IDENTITY FULL table", () => {
    expect(started.strategy).toBe('slot');
    expect(started.slotName).toBe(names.slot);
    // 15 → 17: streaming, but no parallel apply from a 15 publisher; origin = none needs a 16+ source.
    expect(started.options.map((o) => `${o.option}=${o.value}`)).toEqual(['streaming=on']);
    expect(started.skippedOptions.map((o) => o.option)).toEqual(['origin']);
    expect(started.helperIndexes.map((h) => `${h.schema}.${h.name}`)).toEqual(['analytics.event_log']);
    expect(started.fullIdentityWithoutIndex).toEqual([]);
  });

  it('reports caught up — the slot confirms the WAL position read before — every table ready and the lag of a heartbeat in ms', async () => {
    // What a user checks: everything written before this moment has been applied. Other test files
    // write WAL on the same server all the time, so a byte bound on the lag measures them, not us.
    const lsn = await sourceLsn();
    const caughtUp = await waitForApplied({ source: pair.source, slotName: names.slot, lsn, timeoutMs: 60_000 });
    expect(caughtUp.reached).toBe(true);
    // A probe bound well above any scheduling hiccup: the heartbeat's lag is measured, not "more than".
    // The slot's confirmed position follows the applied one at the subscriber's next feedback message
    // (wal_receiver_status_interval, 10 s by default): wait for it, bounded, rather than race it.
    let status = await cdcStatus({ source: pair.source, target: pair.target, names, probeTimeoutMs: 60_000 });
    for (let i = 0; i < 120 && !(status.slot?.confirmedFlushLsn && compareLsn(status.slot.confirmedFlushLsn, lsn) >= 0); i++) {
      await sleep(500);
      status = await cdcStatus({ source: pair.source, target: pair.target, names, probeTimeoutMs: 60_000 });
    }
    expect(status.slot?.confirmedFlushLsn).not.toBeNull();
    expect(compareLsn(status.slot!.confirmedFlushLsn!, lsn)).toBeGreaterThanOrEqual(0);
    expect(compareLsn(status.appliedLsn!, lsn)).toBeGreaterThanOrEqual(0);
    expect(status.subscription?.enabled).toBe(true);
    expect(status.subscription?.workerRunning).toBe(true);
    expect(status.tables.length).toBeGreaterThan(8);
    expect(status.tables.every((t) => t.state === 'ready')).toBe(true);
    expect(status.lagBytes).toBeGreaterThanOrEqual(0);
    expect(status.lagMs).toBeGreaterThanOrEqual(0);
    expect(status.lagMsAtLeast).toBeNull();
    expect(status.fullIdentityWithoutIndex).toEqual([]);
    expect(status.verdict).toBe('ok');
  });

  it('reports lag in bytes while the subscription is paused with writes pending, and catches up after', async () => {
    await pair.tgt(`ALTER SUBSCRIPTION ${names.subscription} DISABLE`);
    for (
      let i = 0;
      i < 50 && (await pair.src(`SELECT active FROM pg_replication_slots WHERE slot_name = $1`, [names.slot])).rows[0].active;
      i++
    )
      await sleep(100);
    await pair.src(
      `INSERT INTO analytics.event_log (occurred_at, event_type, properties) SELECT now(), 'paused', jsonb_build_object('i', i) FROM generate_series(1, 3000) i`,
    );
    const paused = await cdcStatus({ source: pair.source, target: pair.target, names });
    expect(paused.lagBytes!).toBeGreaterThan(100_000);
    expect(paused.lagMs).toBeNull();
    expect(paused.verdict).toBe('critical');
    expect(paused.findings.map((f) => f.message).join('\n')).toMatch(/disabled/);

    await pair.tgt(`ALTER SUBSCRIPTION ${names.subscription} ENABLE`);
    const res = await waitForApplied({ source: pair.source, slotName: names.slot, lsn: await sourceLsn(), timeoutMs: 30_000 });
    expect(res.reached).toBe(true);
    expect((await pair.tgt(`SELECT count(*)::int AS n FROM analytics.event_log WHERE event_type = 'paused'`)).rows[0].n).toBe(3000);
  });

  it('warns, then turns critical, on retained WAL past the thresholds', async () => {
    const warn = await cdcStatus({ source: pair.source, target: pair.target, names, warnRetainedBytes: 1, maxRetainedBytes: 1e15 });
    expect(warn.retained.bytes).toBeGreaterThan(0);
    expect(warn.retained.level).toBe('warn');
    expect(warn.verdict).toBe('warn');
    const critical = await cdcStatus({ source: pair.source, target: pair.target, names, warnRetainedBytes: 1, maxRetainedBytes: 2 });
    expect(critical.verdict).toBe('critical');
    expect(critical.findings.map((f) => f.message).join('\n')).toMatch(/retains .* of WAL on the source \(limit/);
  });

  it('stop leaves no subscription, slot or publication on either side, and stopping again is fine', async () => {
    const first = await stopCdc({ source: pair.source, target: pair.target, names, log: silentLogger });
    expect(first).toMatchObject({
      droppedSubscription: true,
      droppedSlots: [names.slot],
      droppedPublication: true,
      sourceReachable: true,
      leftovers: [],
      nothingToDo: false,
    });
    for (const side of [pair.src, pair.tgt]) {
      expect(await slotsOf(pair.name, side)).toEqual([]);
      expect((await side(`SELECT pubname FROM pg_publication`)).rows).toEqual([]);
      expect(
        (await side(`SELECT subname FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`))
          .rows,
      ).toEqual([]);
    }
    const second = await stopCdc({ source: pair.source, target: pair.target, names, log: silentLogger });
    expect(second).toMatchObject({ droppedSubscription: false, droppedSlots: [], droppedPublication: false, nothingToDo: true });
  });
});
