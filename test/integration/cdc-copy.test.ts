/**
 * The simple strategy for small databases: a schema-only target, and the subscription copies the
 * tables itself (copy_data = true). Also: what cdc status says about a REPLICA IDENTITY FULL table
 * the target has no index for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cdcStatus, startCdc, stopCdc, watchCdc, type CdcSample } from '../../src/engine/cdc/index.js';
import { migrationNames } from '../../src/engine/names.js';
import { PgshiftError } from '../../src/errors.js';
import { connect } from '../../src/postgres/connect.js';
import { currentWalLsn, waitForApplied } from '../../src/postgres/lsn.js';
import { loadFixture, loadSchema } from '../../src/rehearse/fixture/load.js';
import { silentLogger } from '../../src/log/logger.js';
import { freshPair, type TestPair } from '../support/databases.js';
import { fingerprints, leafTables, sleep } from './cdc-support.js';

const names = migrationNames('cdc_copy');
let pair: TestPair;

beforeAll(async () => {
  pair = await freshPair('pgshift_cdc_copy');
  const s = await connect(pair.source);
  await loadFixture(s, { rows: 200 });
  await s.end();
  const t = await connect(pair.target);
  await loadSchema(t);
  await t.end();
});

afterAll(async () => {
  await pair?.drop();
});

describe('cdc start --cdc-strategy subscription-copy', () => {
  it('creates the publication and slot, copies every table and then streams; status follows the sync to ready', async () => {
    const started = await startCdc({ source: pair.source, target: pair.target, names, strategy: 'subscription-copy', log: silentLogger });
    expect(started.createdPublication).toBe(true);
    // No helper index was asked for: the FULL table is named as a risk.
    expect(started.fullIdentityWithoutIndex).toEqual([{ schema: 'analytics', name: 'event_log' }]);

    let status = await cdcStatus({ source: pair.source, target: pair.target, names });
    for (let i = 0; i < 300 && status.tables.some((t) => t.state !== 'ready'); i++) {
      await sleep(100);
      status = await cdcStatus({ source: pair.source, target: pair.target, names, probeTimeoutMs: 200 });
    }
    expect(status.tables.length).toBeGreaterThan(8);
    expect(status.tables.every((t) => t.state === 'ready')).toBe(true);
    expect(status.findings.map((f) => f.message).join('\n')).toMatch(
      /analytics\.event_log has REPLICA IDENTITY FULL and no usable index on the target/,
    );
    expect(status.verdict).toBe('warn');

    await pair.src(`UPDATE analytics.event_log SET event_type = 'after copy' WHERE member_id % 3 = 0`);
    await pair.src(
      `INSERT INTO public.review (restaurant_id, member_id, content, is_recommended) VALUES (1, 1, repeat('긴 리뷰 ', 800), true)`,
    );
    const c = await connect(pair.source);
    const reached = await waitForApplied({ source: pair.source, slotName: names.slot, lsn: await currentWalLsn(c), timeoutMs: 30_000 });
    const tables = await leafTables(c);
    await c.end();
    expect(reached.reached).toBe(true);
    const [src, tgt] = await Promise.all([fingerprints(pair.sourceUrl, tables), fingerprints(pair.targetUrl, tables)]);
    expect(tgt).toEqual(src);
  });

  it('watch produces a lag series, and the heartbeat moves an idle slot', async () => {
    const slotBefore = (
      await pair.src(`SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1`, [names.slot])
    ).rows[0].lsn;
    const controller = new AbortController();
    const seen: CdcSample[] = [];
    // An idle probe is answered once the target has flushed its last applied commit (its
    // wal_writer_delay, 200 ms by default): a sample every second leaves room for that.
    const series = await watchCdc(
      { source: pair.source, target: pair.target, names },
      1000,
      (s) => {
        seen.push(s);
        if (seen.length === 3) controller.abort();
      },
      controller.signal,
    );
    expect(series).toHaveLength(3);
    // Every sample carries the lag in bytes and the heartbeat's lag — measured, or "more than" the
    // probe's bound when the machine is slow; how fast a shared machine answers is no test of pgshift.
    expect(series.every((s) => !s.error && s.lagBytes !== null && (s.lagMs !== null || s.lagMsAtLeast !== null))).toBe(true);
    const slotAfter = (
      await pair.src(`SELECT confirmed_flush_lsn > $2::pg_lsn AS moved FROM pg_replication_slots WHERE slot_name = $1`, [
        names.slot,
        slotBefore,
      ])
    ).rows[0];
    expect(slotAfter.moved).toBe(true);
  });

  it('refuses to copy into tables that already hold rows', async () => {
    await stopCdc({ source: pair.source, target: pair.target, names, log: silentLogger });
    const err = await startCdc({ source: pair.source, target: pair.target, names, strategy: 'subscription-copy', log: silentLogger }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PgshiftError);
    expect((err as PgshiftError).kind).toBe('usage');
    expect((err as PgshiftError).oneLine()).toMatch(/subscription-copy needs empty tables on the target .*, but .* hold rows/);
    // The refusal left nothing behind: the publication it had made is gone again.
    expect((await pair.src(`SELECT pubname FROM pg_publication`)).rows).toEqual([]);
    const stop = await stopCdc({ source: pair.source, target: pair.target, names, log: silentLogger });
    expect(stop.nothingToDo).toBe(true);
  });
});
