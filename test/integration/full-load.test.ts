import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installDdlReplay } from '../../src/engine/ddl/index.js';
import { runFullLoad, type FullLoadResult } from '../../src/engine/full-load/full-load.js';
import { migrationNames } from '../../src/engine/names.js';
import { PgshiftError } from '../../src/errors.js';
import { loadFixture } from '../../src/rehearse/fixture/load.js';
import type { Logger } from '../../src/log/logger.js';
import { catalogDescription, tableHashes } from '../support/compare.js';
import { freshPair, type TestPair } from '../support/databases.js';

const names = migrationNames('fl_test');

function recordingLogger(onLine?: (line: string) => void): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (l: string) => {
    lines.push(l);
    onLine?.(l);
  };
  return { lines, info: push, warn: push, progress: push };
}

async function sourceClient(pair: TestPair): Promise<pg.Client> {
  const c = new pg.Client(pair.sourceUrl);
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

describe('full-load on real servers (PostgreSQL 15 -> 17)', () => {
  let pair: TestPair;
  let result: FullLoadResult;
  let log: ReturnType<typeof recordingLogger>;
  /** Review ids written on the source while full-load ran, after the slot's snapshot was taken. */
  const writtenDuringCopy: number[] = [];
  let background: Promise<void> = Promise.resolve();

  beforeAll(async () => {
    pair = await freshPair('pgshift_fl');
    const c = await sourceClient(pair);
    await loadFixture(c, { rows: 3000 });
    // Old-style inheritance: the child's indexes come from post-data, so its ANALYZE must come after.
    await c.query(`CREATE TABLE analytics.audit_base (id bigint PRIMARY KEY, note text NOT NULL)`);
    await c.query(`CREATE TABLE analytics.audit_2025 (CHECK (id > 0)) INHERITS (analytics.audit_base)`);
    await c.query(`ALTER TABLE analytics.audit_2025 ADD PRIMARY KEY (id)`);
    await c.query(`CREATE INDEX audit_2025_lower_note ON analytics.audit_2025 (lower(note))`);
    await c.query(`INSERT INTO analytics.audit_2025 SELECT i, 'Note ' || (i % 50) FROM generate_series(1, 2000) AS i`);
    await c.end();

    const writer = await sourceClient(pair);
    let started = false;
    // As soon as the snapshot is exported, the application keeps writing: these rows must not be
    // in the copy, and must all arrive through the slot afterwards.
    log = recordingLogger((line) => {
      if (started || !line.includes('dump the schema in the snapshot')) return;
      started = true;
      background = (async () => {
        for (let i = 0; i < 40; i++) {
          const r = await writer.query(
            `INSERT INTO public.review (restaurant_id, member_id, content, is_recommended, created_at) VALUES (1, 1, $1, true, now()) RETURNING id`,
            [`during copy ${i}`],
          );
          writtenDuringCopy.push(Number(r.rows[0].id));
          await writer.query(`UPDATE public.member SET nickname = nickname || '*' WHERE id = $1`, [i + 1]);
          if (i % 10 === 0) await writer.query(`DELETE FROM public.favorite WHERE id = (SELECT min(id) FROM public.favorite)`);
        }
        await writer.end();
      })();
    });
    result = await runFullLoad({ source: pair.source, target: pair.target, names, jobs: 2, minChunkBytes: 64 * 1024, log });
    await background;
  });

  afterAll(async () => {
    await pair?.drop();
  });

  it('names the slot, publication and consistent LSN for the CDC phase', async () => {
    expect(result.slotName).toBe('fl_test');
    expect(result.publication).toBe('fl_test');
    expect(result.consistentLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    const slot = await pair.src(`SELECT slot_type, plugin, active FROM pg_replication_slots WHERE slot_name = $1`, ['fl_test']);
    expect(slot.rows).toEqual([{ slot_type: 'logical', plugin: 'pgoutput', active: false }]);
    // Big tables were split into page ranges by the small chunk size.
    expect(result.tables.some((t) => t.chunks > 1)).toBe(true);
    expect(result.tables.find((t) => t.name === 'review')!.indexes).toBeGreaterThan(0);
    // Foreign keys between plain tables are added during the copy, not left to post-data.
    expect(result.tables.find((t) => t.name === 'review_tag')!.foreignKeys).toBeGreaterThan(0);
  });

  it('copies no row written after the snapshot', async () => {
    expect(writtenDuringCopy.length).toBe(40);
    const onTarget = await pair.tgt('SELECT count(*)::int AS n FROM public.review WHERE id = ANY($1::bigint[])', [writtenDuringCopy]);
    expect(onTarget.rows[0].n).toBe(0);
  });

  it('creates the schema, grants, roles, sequences and large objects as on the source', async () => {
    const [src, tgt] = await Promise.all([catalogDescription(pair.sourceUrl), catalogDescription(pair.targetUrl)]);
    for (const key of Object.keys(src)) expect({ [key]: tgt[key] }).toEqual({ [key]: src[key] });
    expect(src.largeObjects!.length).toBeGreaterThan(0);
    expect(src.grants!.some((g) => g.includes('tasteam_app'))).toBe(true);
    const role = await pair.tgt(`SELECT rolcanlogin FROM pg_roles WHERE rolname = 'tasteam_app'`);
    expect(role.rows).toEqual([{ rolcanlogin: true }]);
    const matview = await pair.tgt(`SELECT count(*)::int AS n FROM analytics.restaurant_rating`);
    expect(matview.rows[0].n).toBeGreaterThan(0);
    const notAnalyzed = await pair.tgt(
      `SELECT schemaname || '.' || relname AS t FROM pg_stat_user_tables WHERE last_analyze IS NULL AND last_autoanalyze IS NULL ORDER BY 1`,
    );
    expect(notAnalyzed.rows).toEqual([]);
    // Analyzed after its expression index existed: the planner has statistics for lower(note).
    const expressionStats = await pair.tgt(
      `SELECT count(*)::int AS n FROM pg_stats WHERE schemaname = 'analytics' AND tablename = 'audit_2025_lower_note'`,
    );
    expect(expressionStats.rows[0].n).toBe(1);
    const publications = await pair.tgt(`SELECT count(*)::int AS n FROM pg_publication`);
    expect(publications.rows[0].n).toBe(0);
  });

  it('delivers exactly the writes made during the copy through the slot (plain subscription)', async () => {
    const conninfo = `host=127.0.0.1 port=${pair.source.port} dbname=${pair.source.database} user=postgres password=${pair.source.password}`;
    // FOR ALL TABLES carries pgshift's DDL log too: a subscriber needs the table (cdc start makes it; here by hand).
    const t = new pg.Client(pair.targetUrl);
    await t.connect();
    await installDdlReplay(t, false);
    await t.end();
    await pair.tgt(
      `CREATE SUBSCRIPTION fl_plain CONNECTION ${pg.escapeLiteral(conninfo)} PUBLICATION fl_test WITH (create_slot = false, copy_data = false, slot_name = 'fl_test')`,
    );
    const target = await pair.src(`SELECT pg_current_wal_insert_lsn()::text AS lsn`);
    for (let i = 0; i < 200; i++) {
      const r = await pair.src(`SELECT confirmed_flush_lsn >= $1::pg_lsn AS done FROM pg_replication_slots WHERE slot_name = 'fl_test'`, [
        target.rows[0].lsn,
      ]);
      if (r.rows[0]?.done) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const [src, tgt] = await Promise.all([tableHashes(pair.sourceUrl), tableHashes(pair.targetUrl)]);
    expect(tgt).toEqual(src);
    const delivered = await pair.tgt('SELECT count(*)::int AS n FROM public.review WHERE id = ANY($1::bigint[])', [writtenDuringCopy]);
    expect(delivered.rows[0].n).toBe(40);
    await pair.tgt(`ALTER SUBSCRIPTION fl_plain DISABLE`);
    await pair.tgt(`ALTER SUBSCRIPTION fl_plain SET (slot_name = NONE)`);
    await pair.tgt(`DROP SUBSCRIPTION fl_plain`);
  });

  it('refuses a non-empty target without --clean, and a re-run with --clean succeeds', async () => {
    await pair.src(`SELECT pg_drop_replication_slot('fl_test')`);
    const err = await runFullLoad({ source: pair.source, target: pair.target, names, jobs: 2, log: recordingLogger() }).catch((e) => e);
    expect(err).toBeInstanceOf(PgshiftError);
    expect(err.exitCode).toBe(2);
    expect(err.oneLine()).toMatch(/is not empty .*--clean/);
    // Nothing half-done: the refusal came before any slot was made.
    const slots = await pair.src(`SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name = 'fl_test'`);
    expect(slots.rows[0].n).toBe(0);

    const again = await runFullLoad({ source: pair.source, target: pair.target, names, jobs: 2, clean: true, log: recordingLogger() });
    expect(again.droppedByClean.length).toBeGreaterThan(0);
    await pair.src(`SELECT pg_drop_replication_slot('fl_test')`);
    await pair.src(`DROP PUBLICATION fl_test`);
    const [src, tgt] = await Promise.all([tableHashes(pair.sourceUrl), tableHashes(pair.targetUrl)]);
    expect(tgt).toEqual(src);
  });
});

describe('full-load failures leave nothing behind', () => {
  let pair: TestPair;
  beforeAll(async () => {
    pair = await freshPair('pgshift_fl_fail');
  });
  afterAll(async () => {
    await pair?.drop();
  });

  it('drops the slot and publication it made when the restore fails', async () => {
    // old_snapshot exists in PostgreSQL 15 and was removed in 17: the restore on the target must fail.
    await pair.src(`CREATE EXTENSION old_snapshot`);
    await pair.src(`CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100)`);
    const log = recordingLogger();
    const err = await runFullLoad({ source: pair.source, target: pair.target, names: migrationNames('fl_fail'), jobs: 1, log }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(PgshiftError);
    expect(err.oneLine()).toMatch(/pg_restore failed/);
    expect(err.oneLine()).toMatch(/old_snapshot/);
    expect(err.oneLine()).not.toContain(pair.source.password);
    const left = await pair.src(
      `SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'fl_fail')::int AS slots, (SELECT count(*) FROM pg_publication WHERE pubname = 'fl_fail')::int AS pubs`,
    );
    expect(left.rows[0]).toEqual({ slots: 0, pubs: 0 });
    // It names exactly what this run created, and nothing else (docs/design.md rule 13).
    const where = `the source 127.0.0.1:${pair.source.port}/pgshift_fl_fail`;
    const dropped = log.lines.filter((l) => l.includes('dropped'));
    expect(dropped).toHaveLength(1);
    expect(dropped[0]).toMatch(
      new RegExp(
        `^full-load failed: dropped what this run created: replication slot fl_fail on ${where}, publication fl_fail on ${where}, DDL capture on the source[^,]*, DDL freeze on the source[^,]*$`,
      ),
    );
  });

  it('refuses source = target', async () => {
    const err = await runFullLoad({
      source: pair.source,
      target: { ...pair.source, side: 'target' },
      names: migrationNames('fl_same'),
      log: recordingLogger(),
    }).catch((e) => e);
    expect(err).toBeInstanceOf(PgshiftError);
    expect(err.exitCode).toBe(2);
    expect(err.oneLine()).toMatch(/same database/);
  });
});
