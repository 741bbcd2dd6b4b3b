/**
 * A second attempt after a crash, as it happens: the real CLI is SIGKILLed in the middle of the
 * copy while the application keeps writing; `full-load --clean` then removes what the killed run
 * left (its slot and publication on the source, its tables on the target) and loads again; CDC
 * follows. The result is exact — every acknowledged write is on the target (a ledger proves it)
 * and the tables are equal — and nothing stale is left. While CDC runs, --clean refuses and
 * touches nothing; nor does it drop a publication that a live subscription reads.
 */
import pg from 'pg';
import { installDdlReplay } from '../../src/engine/ddl/index.js';
import { withClient } from '../../src/postgres/connect.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFullLoad } from '../../src/engine/full-load/full-load.js';
import { migrationNames } from '../../src/engine/names.js';
import { PgshiftError } from '../../src/errors.js';
import { loadFixture } from '../../src/rehearse/fixture/load.js';
import { silentLogger } from '../../src/log/logger.js';
import { runCli, startCli } from '../support/cli.js';
import { tableHashes } from '../support/compare.js';
import { admin, freshPair, serverUrl, type TestPair } from '../support/databases.js';
import { startLedgerWriter } from '../support/ledger-writer.js';

const NAME = 'fl_clean';
let pair: TestPair;
let env: Record<string, string>;

/** The fixture's tables, quoted; not the ledger the application writes to. */
async function tablesToHold(): Promise<string[]> {
  const r = await pair.src(
    `SELECT format('%I.%I', n.nspname, c.relname) AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname IN ('public', 'analytics') AND c.relname NOT IN ('write_ledger', 'side_channel') ORDER BY 1`,
  );
  return r.rows.map((x) => x.t);
}

async function sourceState() {
  const slots = await pair.src(`SELECT slot_name, active FROM pg_replication_slots WHERE database = $1 ORDER BY 1`, [pair.name]);
  const publications = await pair.src(`SELECT pubname FROM pg_publication ORDER BY 1`);
  return { slots: slots.rows, publications: publications.rows.map((r) => r.pubname) };
}

/** The DDL freeze's event triggers on the source: a killed full-load cannot lift its own. */
async function ddlFreezeTriggers(): Promise<string[]> {
  const r = await pair.src(`SELECT evtname FROM pg_event_trigger WHERE evtname LIKE 'pgshift_ddl_freeze%' ORDER BY 1`);
  return r.rows.map((x) => x.evtname);
}

async function targetSubscriptions(): Promise<string[]> {
  const r = await pair.tgt(
    `SELECT subname FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY 1`,
  );
  return r.rows.map((x) => x.subname);
}

async function targetTables(): Promise<string[]> {
  const r = await pair.tgt(
    `SELECT n.nspname || '.' || c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1`,
  );
  return r.rows.map((x) => x.t);
}

/** What a user checks: the slot has confirmed everything up to the source's WAL position read now. */
async function waitUntilSlotConfirms(lsn: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const r = await pair.src(`SELECT confirmed_flush_lsn >= $2::pg_lsn AS done FROM pg_replication_slots WHERE slot_name = $1`, [
      NAME,
      lsn,
    ]);
    if (r.rows[0]?.done) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`slot ${NAME} did not confirm ${lsn} within 60 s`);
}

beforeAll(async () => {
  pair = await freshPair('pgshift_fl_clean');
  const c = new pg.Client(pair.sourceUrl);
  await c.connect();
  await loadFixture(c, { rows: 1500 });
  await c.query(`CREATE TABLE public.write_ledger (id bigint PRIMARY KEY, note text NOT NULL)`);
  // Read only by the side subscription of the last test: no change ever flows through it.
  await c.query(`CREATE TABLE public.side_channel (id int PRIMARY KEY)`);
  await c.end();
  env = { PGSHIFT_SOURCE_URL: pair.sourceUrl, PGSHIFT_TARGET_URL: pair.targetUrl };
});

afterAll(async () => {
  await admin('target', 'postgres', (c) => c.query('DROP DATABASE IF EXISTS pgshift_fl_clean_side WITH (FORCE)')).catch(() => undefined);
  await pair?.drop();
});

describe('full-load SIGKILLed mid-copy under live writes, then --clean, then CDC', () => {
  const writer = () => ledger!;
  let ledger: ReturnType<typeof startLedgerWriter> | undefined;

  it('the killed run leaves its slot, its publication and a partial target behind', async () => {
    ledger = startLedgerWriter(pair.sourceUrl);
    const lockers: pg.Client[] = [];
    try {
      const cli = startCli(['full-load', '--name', NAME, '--jobs', '2'], env);
      // The copy begins. The worker that planned it holds a share lock on every table until its
      // transaction ends; an exclusive lock request on each table queues behind that one and ahead
      // of every other worker's COPY, so the second worker stops at its next table, mid-copy.
      await cli.lineMatching(/▶ copy data and build indexes/);
      for (const table of await tablesToHold()) {
        const c = new pg.Client({ connectionString: pair.sourceUrl, application_name: 'test-locker' });
        c.on('error', () => undefined);
        await c.connect();
        lockers.push(c);
        await c.query('BEGIN');
        void c.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`).catch(() => undefined);
      }
      // Wait until a copy worker is seen waiting for one of them: the run is mid-copy, for sure.
      for (let i = 0; ; i++) {
        const waiting = await pair.src(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pgshift-copy' AND wait_event_type = 'Lock' AND query LIKE 'COPY %'`,
          [pair.name],
        );
        if (waiting.rows[0].n > 0) break;
        if (i > 600) throw new Error(`no copy worker waited on a held table:\n${cli.lines.join('\n')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      process.kill(cli.pid, 'SIGKILL');
      const end = await cli.result;
      expect(end.signal).toBe('SIGKILL');
      expect(end.stderr).not.toMatch(/▶ copy large objects/);
    } finally {
      await pair.src(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'test-locker'`, [
        pair.name,
      ]);
      for (const c of lockers) await c.end().catch(() => undefined);
    }
    // The killed run's copy sessions end once they find their client gone.
    for (let i = 0; i < 100; i++) {
      const left = await pair.src(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'pgshift%'`,
        [pair.name],
      );
      if (left.rows[0].n === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await sourceState()).toEqual({ slots: [{ slot_name: NAME, active: false }], publications: [NAME] });
    expect(await ddlFreezeTriggers()).toEqual(['pgshift_ddl_freeze', 'pgshift_ddl_freeze_drop']);
    expect((await targetTables()).length).toBeGreaterThan(5);
    // Part of the data is on the target, not all of it.
    const [src, tgt] = await Promise.all([tableHashes(pair.sourceUrl), tableHashes(pair.targetUrl)]);
    const rows = (h: Record<string, string>) => Object.values(h).reduce((n, v) => n + Number(v.split(':')[0]), 0);
    expect(rows(tgt)).toBeLessThan(rows(src));
  });

  it('without --clean, a second full-load refuses, names what is left and touches nothing', async () => {
    const tablesBefore = await targetTables();
    const r = await runCli(['full-load', '--name', NAME], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /pgshift: replication slot fl_clean and publication fl_clean and a DDL freeze on the source .* \(left by an earlier full-load with --name fl_clean\); the target .* is not empty .*--clean/,
    );
    expect(r.stderr).not.toContain('dropped');
    expect(await sourceState()).toEqual({ slots: [{ slot_name: NAME, active: false }], publications: [NAME] });
    expect(await targetTables()).toEqual(tablesBefore);
  });

  it('full-load --clean removes exactly what the killed run left, and loads again', async () => {
    const r = await runCli(['full-load', '--name', NAME, '--jobs', '2', '--clean'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /--clean: dropped replication slot fl_clean and publication fl_clean and the DDL freeze on the source .*, left by an earlier full-load with --name fl_clean/,
    );
    expect(r.stderr).not.toMatch(/full-load failed/);
    expect(await sourceState()).toEqual({ slots: [{ slot_name: NAME, active: false }], publications: [NAME] });
  });

  it('CDC from the new slot: every acknowledged write is on the target, the tables are equal, nothing stale is left', async () => {
    const start = await runCli(['cdc', 'start', '--name', NAME], env);
    expect(start.code, start.stderr).toBe(0);
    await writer().stop();
    expect(writer().failures).toEqual([]);
    expect(writer().acknowledged.length).toBeGreaterThan(100);
    const lsn = (await pair.src('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0].lsn;
    await waitUntilSlotConfirms(lsn);

    const onTarget = await pair.tgt('SELECT id FROM public.write_ledger ORDER BY id');
    expect(onTarget.rows.map((r) => Number(r.id))).toEqual(writer().acknowledged);
    const [src, tgt] = await Promise.all([tableHashes(pair.sourceUrl), tableHashes(pair.targetUrl)]);
    expect(tgt).toEqual(src);
    const verify = await runCli(['verify', '--mode', 'full', '--name', NAME], env);
    expect(verify.code, verify.stderr + verify.stdout).toBe(0);

    expect(await sourceState()).toEqual({ slots: [{ slot_name: NAME, active: true }], publications: [NAME] });
    expect(await targetSubscriptions()).toEqual([NAME]);
    // The killed run's DDL freeze is gone with it, and the new run lifted its own: schema changes work again.
    expect(await ddlFreezeTriggers()).toEqual([]);
  });

  it('--clean refuses while CDC runs, says cdc stop first, and touches nothing', async () => {
    const before = { source: await sourceState(), subscriptions: await targetSubscriptions(), hashes: await tableHashes(pair.targetUrl) };
    const r = await runCli(['full-load', '--name', NAME, '--clean'], env);
    expect(r.code).toBe(2);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('pgshift:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /subscription fl_clean still runs on the target .*CDC is running.* — run 'pgshift cdc stop --name fl_clean' first/,
    );
    expect(r.stderr).not.toMatch(/dropp/);
    expect({ source: await sourceState(), subscriptions: await targetSubscriptions(), hashes: await tableHashes(pair.targetUrl) }).toEqual(
      before,
    );
  });

  it('--clean refuses, touching nothing, while the slot streams to a subscription of another name', async () => {
    const stop = await runCli(['cdc', 'stop', '--name', NAME], env);
    expect(stop.code, stop.stderr).toBe(0);
    const reload = await runCli(['full-load', '--name', NAME, '--clean'], env);
    expect(reload.code, reload.stderr).toBe(0);
    // Somebody subscribed to the slot by hand (one table of it): pgshift's subscription is not there, the slot is in use.
    await pair.src('CREATE PUBLICATION fl_clean_by_hand FOR TABLE public.side_channel');
    const conninfo = `host=127.0.0.1 port=${pair.source.port} dbname=${pair.source.database} user=postgres password=${pair.source.password}`;
    // FOR ALL TABLES carries pgshift's DDL log too: a subscriber needs the table (cdc start makes it; here by hand).
    await withClient(pair.target, (c) => installDdlReplay(c, false));
    await pair.tgt(
      `CREATE SUBSCRIPTION side_reader CONNECTION ${pg.escapeLiteral(conninfo)} PUBLICATION fl_clean_by_hand WITH (create_slot = false, slot_name = '${NAME}', copy_data = false)`,
    );
    try {
      await waitFor(async () => (await sourceState()).slots.some((s) => s.active));
      const before = { source: await sourceState(), tables: await targetTables(), hashes: await tableHashes(pair.targetUrl) };
      const err = await runFullLoad({
        source: pair.source,
        target: pair.target,
        names: migrationNames(NAME),
        clean: true,
        log: silentLogger,
      }).catch((e) => e);
      expect(err).toBeInstanceOf(PgshiftError);
      expect(err.oneLine()).toMatch(/replication slot fl_clean is in use on the source .*walsender pid \d+: CDC is running.*cdc stop/);
      expect({ source: await sourceState(), tables: await targetTables(), hashes: await tableHashes(pair.targetUrl) }).toEqual(before);
    } finally {
      await pair.tgt('ALTER SUBSCRIPTION side_reader DISABLE').catch(() => undefined);
      await pair.tgt('ALTER SUBSCRIPTION side_reader SET (slot_name = NONE)').catch(() => undefined);
      await pair.tgt('DROP SUBSCRIPTION IF EXISTS side_reader').catch(() => undefined);
      await pair.src('DROP PUBLICATION IF EXISTS fl_clean_by_hand');
    }
  });

  it('--clean never drops a publication that a live subscription reads through a slot of its own', async () => {
    // A second target on the same server, reading one table through a publication and slot of its own.
    await admin('target', 'postgres', (c) => c.query('CREATE DATABASE pgshift_fl_clean_side'));
    await pair.src('CREATE PUBLICATION fl_side FOR TABLE public.side_channel');
    const side = new pg.Client(serverUrl('target', 'pgshift_fl_clean_side'));
    side.on('error', () => undefined);
    await side.connect();
    try {
      await side.query('CREATE TABLE public.side_channel (id int PRIMARY KEY)');
      const conninfo = `host=127.0.0.1 port=${pair.source.port} dbname=${pair.source.database} user=postgres password=${pair.source.password}`;
      await side.query(
        `CREATE SUBSCRIPTION side_own CONNECTION ${pg.escapeLiteral(conninfo)} PUBLICATION fl_side WITH (slot_name = 'side_own_slot', copy_data = false)`,
      );
      await waitFor(async () => (await sourceState()).slots.some((s) => s.slot_name === 'side_own_slot' && s.active));
      const before = { source: await sourceState(), tables: await targetTables() };
      const err = await runFullLoad({
        source: pair.source,
        target: pair.target,
        names: migrationNames('fl_side'),
        clean: true,
        log: silentLogger,
      }).catch((e) => e);
      expect(err).toBeInstanceOf(PgshiftError);
      expect(err.oneLine()).toMatch(
        /publication fl_side on the source .* is read by a live subscription: walsender pid \d+ for side_own .*\(slot side_own_slot\)/,
      );
      expect({ source: await sourceState(), tables: await targetTables() }).toEqual(before);
    } finally {
      await side.query('ALTER SUBSCRIPTION side_own DISABLE').catch(() => undefined);
      await side.query('ALTER SUBSCRIPTION side_own SET (slot_name = NONE)').catch(() => undefined);
      await side.query('DROP SUBSCRIPTION IF EXISTS side_own').catch(() => undefined);
      await side.end();
      await pair.src(`SELECT pg_drop_replication_slot('side_own_slot')`).catch(() => undefined);
      await pair.src('DROP PUBLICATION IF EXISTS fl_side');
    }
  });
});

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('condition not met within 30 s');
}
