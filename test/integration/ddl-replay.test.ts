/**
 * Experiment 04's test matrix on the real servers (PostgreSQL 15 → 17): schema changes made on
 * the source while CDC runs are captured by pgshift's event triggers and replayed on the target
 * inside the apply worker's transaction. Each row writes rows in the same transaction before and
 * after the DDL while the 200 writes/s workload runs; once the target has applied past the
 * source's position: no schema difference, `verify --mode full` equal, and the subscription in
 * the state the row expects. The last test proves every acknowledged write arrived and that
 * cleanup leaves nothing of pgshift's on either side.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCdc } from '../../src/engine/cdc/index.js';
import { runCleanup } from '../../src/engine/cleanup/cleanup.js';
import { ddlReport, freezeDdl, resolveDdlCommand, unfreezeDdl, type DdlReport } from '../../src/engine/ddl/index.js';
import { runFullLoad } from '../../src/engine/full-load/full-load.js';
import { migrationNames } from '../../src/engine/names.js';
import { currentWalLsn, waitForApplied } from '../../src/postgres/lsn.js';
import { checkLedger, ledgerTableDdl, startWorkload, type Workload } from '../../src/rehearse/workload.js';
import { silentLogger } from '../../src/log/logger.js';
import { freshPair, type TestPair } from '../support/databases.js';
import { expectFullVerifyEqual } from '../support/verify-equal.js';

const names = migrationNames('ddl_matrix');
let pair: TestPair;
let workload: Workload;

async function client(url: string): Promise<pg.Client> {
  const c = new pg.Client(url);
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** Each statement sent on its own (extended protocol), all in one transaction: what an ORM or Flyway does. */
async function tx(statements: string[]): Promise<void> {
  const c = await client(pair.sourceUrl);
  try {
    await c.query('BEGIN');
    for (const s of statements) await c.query({ text: s, values: [] });
    await c.query('COMMIT');
  } finally {
    await c.end();
  }
}

/** One simple-protocol query string, as psql -c sends it. */
async function simple(sql: string): Promise<void> {
  const c = await client(pair.sourceUrl);
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

const report = (refresh = true): Promise<DdlReport> =>
  ddlReport({ source: pair.source, target: pair.target, names, log: silentLogger, refresh });

async function subscriptionEnabled(): Promise<boolean> {
  return (await pair.tgt('SELECT subenabled FROM pg_subscription WHERE subname = $1', [names.subscription])).rows[0].subenabled;
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Target applied past the source's current position, new tables added: then schema and data must be equal. */
async function expectInSync(): Promise<void> {
  const c = await client(pair.sourceUrl);
  try {
    const lsn = await currentWalLsn(c);
    const waited = await waitForApplied({ source: pair.source, slotName: names.slot, lsn, timeoutMs: 120_000 });
    expect(waited.reached).toBe(true);
  } finally {
    await c.end();
  }
  const r = await report();
  expect(r.stoppedOn).toBeNull();
  expect(r.refresh?.waiting ?? []).toEqual([]);
  expect(r.entries.filter((e) => e.state !== 'applied').map((e) => e.id)).toEqual([]);
  expect(await subscriptionEnabled()).toBe(true);
  await expectFullVerifyEqual(pair, names.slot);
}

/** The stop is named by id and reason while the apply worker retries it; nothing of that transaction is applied. */
async function expectStoppedOn(reason: RegExp): Promise<number> {
  let stopped: DdlReport['stoppedOn'] = null;
  await waitUntil('replication to stop on a DDL', async () => {
    stopped = (await report(false)).stoppedOn;
    return stopped !== null;
  });
  expect(stopped!.reason ?? '').toMatch(reason);
  return stopped!.id;
}

/** Record the resolution; the apply worker's next retry (wal_retrieve_retry_interval, 5 s) applies it. */
async function resolveAndResume(id: number, how: { sql?: string; markApplied?: boolean }): Promise<void> {
  await resolveDdlCommand({ source: pair.source, target: pair.target, names, log: silentLogger, id, resolution: how });
  if (!(await subscriptionEnabled())) {
    const started = await startCdc({ source: pair.source, target: pair.target, names, log: silentLogger });
    expect(started.resumed).toBe(true);
  }
  await waitUntil(`DDL #${id} to be applied`, async () => (await report(false)).entries.find((e) => e.id === id)?.state === 'applied');
}

async function lastLogId(): Promise<number> {
  return Number((await pair.src('SELECT coalesce(max(id), 0) AS id FROM _pgshift.ddl_log')).rows[0].id);
}

describe('DDL replay during CDC (PostgreSQL 15 → 17)', () => {
  beforeAll(async () => {
    pair = await freshPair('ddl_matrix');
    await pair.src(ledgerTableDdl());
    await pair.src(`
      CREATE TABLE public.item (id int PRIMARY KEY, qty int NOT NULL, note text NOT NULL DEFAULT 'n');
      INSERT INTO public.item SELECT g, g % 7, 'row ' || g FROM generate_series(1, 2000) g;
      CREATE TABLE public.big (id int PRIMARY KEY, v int NOT NULL);
      INSERT INTO public.big SELECT g, g FROM generate_series(1, 1000000) g;
      CREATE TABLE public.parent (id int PRIMARY KEY);
      CREATE TABLE public.child (id serial PRIMARY KEY, parent_id int REFERENCES public.parent);
      INSERT INTO public.parent SELECT generate_series(1, 50);
      INSERT INTO public.child (parent_id) SELECT g % 50 + 1 FROM generate_series(1, 200) g;
      CREATE TYPE public.mood AS ENUM ('ok', 'sad');
      CREATE TABLE public.feeling (id int PRIMARY KEY, m public.mood NOT NULL);
      INSERT INTO public.feeling VALUES (1, 'ok'), (2, 'sad');
      CREATE TABLE public.events (id bigint NOT NULL, at date NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
      CREATE TABLE public.events_2026_01 PARTITION OF public.events FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
      INSERT INTO public.events SELECT g, date '2026-01-01' + (g % 28) FROM generate_series(1, 300) g;
      CREATE TABLE public.flyway_schema_history (installed_rank int PRIMARY KEY, version text, description text, success boolean NOT NULL);
    `);
    const loaded = await runFullLoad({ source: pair.source, target: pair.target, names, jobs: 2, log: silentLogger });
    expect(loaded.steps.map((s) => s.step)).toEqual(
      expect.arrayContaining(['freeze DDL and install the DDL capture', 'lift the DDL freeze']),
    );
    const started = await startCdc({ source: pair.source, target: pair.target, names, log: silentLogger });
    expect(started.ddl).toBe('replay');
    // Not disable_on_error: it would also disable the subscription on a dropped walsender connection.
    expect(started.options.map((o) => o.option)).not.toContain('disable_on_error');
    workload = startWorkload({ url: pair.sourceUrl, ratePerSecond: 200, durationMs: 900_000, connections: 4 });
  }, 300_000);

  afterAll(async () => {
    await workload?.stop().catch(() => undefined);
    await pair?.drop();
  });

  it('1. ADD COLUMN nullable and with DEFAULT 0, then writes that use them', async () => {
    await tx([
      `INSERT INTO item VALUES (5001, 1, 'before')`,
      'ALTER TABLE item ADD COLUMN colour text',
      'ALTER TABLE item ADD COLUMN stock int NOT NULL DEFAULT 0',
      `INSERT INTO item (id, qty, colour, stock) VALUES (5002, 2, 'red', 9)`,
      `UPDATE item SET colour = 'blue', stock = stock + 1 WHERE id % 10 = 0`,
    ]);
    await expectInSync();
    expect((await pair.tgt(`SELECT colour, stock FROM item WHERE id = 5002`)).rows[0]).toEqual({ colour: 'red', stock: 9 });
  });

  it('2. ADD COLUMN … DEFAULT now(): existing rows keep the source value', async () => {
    await tx([`INSERT INTO item VALUES (5003, 3, 'before')`, 'ALTER TABLE item ADD COLUMN seen_at timestamptz DEFAULT now()']);
    await new Promise((r) => setTimeout(r, 50)); // the target applies strictly later than the source's now()
    await tx([`INSERT INTO item (id, qty) VALUES (5004, 4)`]);
    await expectInSync();
    const entry = (await report(false)).entries.at(-1)!;
    expect(entry.class).toBe('derived');
    const src = (await pair.src(`SELECT count(DISTINCT seen_at)::int AS n FROM item WHERE id <= 5003`)).rows[0].n;
    expect(src).toBe(1);
  });

  it('3. volatile default and identity column on a non-empty table: stop, named, no divergence', async () => {
    await pair.src('CREATE TABLE public.vol (id int PRIMARY KEY)');
    await pair.src('INSERT INTO vol SELECT generate_series(1, 20)');
    await expectInSync();
    await tx([
      `INSERT INTO vol VALUES (100)`,
      'ALTER TABLE vol ADD COLUMN u uuid DEFAULT gen_random_uuid()',
      'INSERT INTO vol (id) VALUES (101)',
    ]);
    const id = await expectStoppedOn(/rewrites public\.vol, which holds rows, with values computed per row/);
    // Nothing of the stopped transaction reached the target.
    expect((await pair.tgt('SELECT count(*)::int AS n FROM vol WHERE id >= 100')).rows[0].n).toBe(0);
    // The operator's way out: the column on the target without values; then the source drops it again.
    await resolveAndResume(id, { sql: 'ALTER TABLE vol ADD COLUMN u uuid' });
    await pair.src('ALTER TABLE vol DROP COLUMN u');
    await expectInSync();
    expect((await pair.tgt('SELECT count(*)::int AS n FROM vol WHERE id >= 100')).rows[0].n).toBe(2);

    await pair.src('ALTER TABLE vol ADD COLUMN n int GENERATED ALWAYS AS IDENTITY');
    const id2 = await expectStoppedOn(/rewrites public\.vol/);
    expect(id2).toBeGreaterThan(id);
    await resolveAndResume(id2, { sql: 'ALTER TABLE vol ADD COLUMN n int' });
    await pair.src('ALTER TABLE vol DROP COLUMN n');
    await expectInSync();
  });

  it('4. DROP COLUMN of a NOT NULL column, then INSERT', async () => {
    await tx([`INSERT INTO item (id, qty) VALUES (5005, 5)`, 'ALTER TABLE item DROP COLUMN qty', `INSERT INTO item (id) VALUES (5006)`]);
    await expectInSync();
  });

  it('5. RENAME COLUMN, RENAME TABLE, SET SCHEMA', async () => {
    await tx([
      'ALTER TABLE item RENAME COLUMN note TO remark',
      `INSERT INTO item (id, remark) VALUES (5007, 'renamed')`,
      'ALTER TABLE item RENAME TO article',
      `INSERT INTO article (id, remark) VALUES (5008, 'renamed table')`,
      'CREATE SCHEMA shop',
      'ALTER TABLE article SET SCHEMA shop',
      `INSERT INTO shop.article (id) VALUES (5009)`,
    ]);
    await expectInSync();
    expect((await pair.tgt(`SELECT remark FROM shop.article WHERE id = 5007`)).rows[0].remark).toBe('renamed');
  });

  it('6. ALTER COLUMN TYPE bigint on 1 M rows, then TYPE int USING', async () => {
    const c = await client(pair.sourceUrl);
    const before = await currentWalLsn(c);
    const t0 = Date.now();
    await tx([
      'UPDATE big SET v = v + 1 WHERE id <= 10',
      'ALTER TABLE big ALTER COLUMN v TYPE bigint',
      'INSERT INTO big VALUES (1000001, 5000000000)',
    ]);
    const after = await currentWalLsn(c);
    await c.end();
    const waited = await waitForApplied({ source: pair.source, slotName: names.slot, lsn: after, timeoutMs: 300_000 });
    expect(waited.reached).toBe(true);
    // Recorded, not asserted: how long the target needed to catch up past the rewrite (the lag spike).
    console.log(`row 6: rewrite of 1 M rows applied ${Date.now() - t0} ms after it started on the source (WAL from ${before} to ${after})`);
    await expectInSync();
    await tx([
      'DELETE FROM big WHERE id = 1000001',
      'ALTER TABLE big ALTER COLUMN v TYPE int USING v::int',
      'INSERT INTO big VALUES (1000002, 7)',
    ]);
    await expectInSync();
  }, 600_000);

  it('7. CREATE TABLE with a primary key, rows written before the refresh all arrive', async () => {
    await tx([
      'CREATE TABLE public.fresh (id int PRIMARY KEY, v text)',
      `INSERT INTO fresh SELECT g, 'v' || g FROM generate_series(1, 500) g`,
    ]);
    await pair.src(`INSERT INTO fresh SELECT g, 'later' FROM generate_series(501, 600) g`);
    await expectInSync();
    expect((await pair.tgt('SELECT count(*)::int AS n FROM fresh')).rows[0].n).toBe(600);
  });

  it('8. CREATE TABLE without a primary key, then UPDATE on the source succeeds', async () => {
    await pair.src('CREATE TABLE public.nokey (a int, b text)');
    await pair.src(`INSERT INTO nokey SELECT g, 'x' FROM generate_series(1, 50) g`);
    await pair.src(`UPDATE nokey SET b = 'y' WHERE a % 2 = 0`);
    await pair.src('DELETE FROM nokey WHERE a = 3');
    expect((await pair.src(`SELECT relreplident FROM pg_class WHERE oid = 'public.nokey'::regclass`)).rows[0].relreplident).toBe('f');
    await expectInSync();
    await pair.src(`UPDATE nokey SET b = 'z' WHERE a = 4`);
    await expectInSync();
  });

  it('9. CREATE TABLE AS and SELECT INTO', async () => {
    await tx(['CREATE TABLE public.summary AS SELECT id, v FROM big WHERE id <= 300', 'INSERT INTO summary VALUES (0, 0)']);
    await simple('SELECT id, remark INTO public.copied FROM shop.article WHERE id > 5000');
    await expectInSync();
    expect((await pair.tgt('SELECT count(*)::int AS n FROM summary')).rows[0].n).toBe(301);
    expect((await pair.tgt('SELECT count(*)::int AS n FROM copied')).rows[0].n).toBeGreaterThan(0);
  });

  it('10. DROP TABLE … CASCADE; TRUNCATE … RESTART IDENTITY CASCADE', async () => {
    await pair.src('CREATE VIEW public.copied_view AS SELECT * FROM copied');
    await tx([`INSERT INTO copied VALUES (1, 'gone')`, 'DROP TABLE copied CASCADE', 'INSERT INTO parent VALUES (51)']);
    await tx(['TRUNCATE parent RESTART IDENTITY CASCADE', 'INSERT INTO parent VALUES (1)', 'INSERT INTO child (parent_id) VALUES (1)']);
    await expectInSync();
    expect((await pair.tgt(`SELECT to_regclass('public.copied') IS NULL AS gone`)).rows[0].gone).toBe(true);
  });

  it('11. CREATE UNIQUE INDEX CONCURRENTLY, then REPLICA IDENTITY USING INDEX', async () => {
    await pair.src('CREATE TABLE public.keyed (a int NOT NULL, b text)');
    await pair.src(`INSERT INTO keyed SELECT g, 'k' FROM generate_series(1, 100) g`);
    await simple('CREATE UNIQUE INDEX CONCURRENTLY keyed_a ON public.keyed (a)');
    await simple('ALTER TABLE public.keyed REPLICA IDENTITY USING INDEX keyed_a');
    await pair.src(`UPDATE keyed SET b = 'changed' WHERE a <= 10`);
    await expectInSync();
    expect((await pair.tgt(`SELECT indisunique FROM pg_index WHERE indexrelid = 'public.keyed_a'::regclass`)).rows[0].indisunique).toBe(
      true,
    );
  });

  it('12. ALTER TYPE … ADD VALUE, used in the next transaction', async () => {
    await simple(`ALTER TYPE mood ADD VALUE 'glad'`);
    await tx([`INSERT INTO feeling VALUES (3, 'glad')`, `UPDATE feeling SET m = 'glad' WHERE id = 1`]);
    await expectInSync();
  });

  it('13. a partition created inside a function, and a DETACH PARTITION: no duplicate rows', async () => {
    await pair.src(`
      CREATE FUNCTION public.make_month(d date) RETURNS void LANGUAGE plpgsql AS $f$
      BEGIN
        EXECUTE format('CREATE TABLE public.%I PARTITION OF public.events FOR VALUES FROM (%L) TO (%L)',
                       'events_' || to_char(d, 'YYYY_MM'), d, (d + interval '1 month')::date);
      END $f$`);
    await tx([
      `SELECT make_month(date '2026-02-01')`,
      `INSERT INTO events SELECT g, date '2026-02-01' + (g % 27) FROM generate_series(1000, 1100) g`,
    ]);
    await expectInSync();
    const entry = (await report(false)).entries.find((e) => e.query.startsWith('SELECT make_month'))!;
    expect(entry.class).toBe('derived');
    expect((await pair.tgt('SELECT count(*)::int AS n FROM events_2026_02')).rows[0].n).toBe(101);

    // DETACH: the table's rows are on the target already (they came through the root); it joins
    // the subscription without a copy before its DETACH is applied, so nothing arrives twice or not at all.
    await tx([
      `INSERT INTO events VALUES (2001, '2026-01-09')`,
      'ALTER TABLE events DETACH PARTITION events_2026_01',
      `INSERT INTO events_2026_01 VALUES (2002, '2026-01-10')`,
      `INSERT INTO events VALUES (2003, '2026-02-10')`,
    ]);
    const r = await report();
    expect(r.refresh?.addedWithoutCopy.map((t) => `${t.schema}.${t.name}`)).toEqual(['public.events_2026_01']);
    await tx([
      `INSERT INTO events_2026_01 VALUES (2004, '2026-01-11')`,
      'DELETE FROM events_2026_01 WHERE id % 10 = 0',
      `UPDATE events_2026_01 SET at = at + 1 WHERE id % 10 = 1 AND at < '2026-01-28'`,
      `INSERT INTO events VALUES (2005, '2026-02-11')`,
      'DELETE FROM events WHERE id = 1000',
    ]);
    await expectInSync();
    for (const table of ['events_2026_01', 'events']) {
      const q = `SELECT count(*)::int AS n, count(DISTINCT (id, at))::int AS distinct_rows FROM ${table}`;
      const [src, tgt] = [(await pair.src(q)).rows[0], (await pair.tgt(q)).rows[0]];
      expect(tgt, table).toEqual(src);
      expect(tgt.n, table).toBe(tgt.distinct_rows);
    }
    expect(
      (await pair.tgt(`SELECT relispartition FROM pg_class WHERE oid = 'public.events_2026_01'::regclass`)).rows[0].relispartition,
    ).toBe(false);
  });

  it('14. ALTER …; INSERT … in one simple query: stop, then the INSERT applied once', async () => {
    await simple(`ALTER TABLE feeling ADD COLUMN note text; INSERT INTO feeling VALUES (4, 'ok', 'multi')`);
    const id = await expectStoppedOn(/one query string with 1 other statement/);
    await resolveAndResume(id, { sql: 'ALTER TABLE feeling ADD COLUMN note text' });
    await expectInSync();
    expect((await pair.tgt(`SELECT count(*)::int AS n FROM feeling WHERE id = 4 AND note = 'multi'`)).rows[0].n).toBe(1);
  });

  it('15. a DO block containing ALTER: stop', async () => {
    await simple(`DO $$ BEGIN ALTER TABLE feeling ADD COLUMN extra int; END $$`);
    const id = await expectStoppedOn(/ran inside a routine \(the statement sent was DO/);
    await resolveAndResume(id, { sql: 'ALTER TABLE feeling ADD COLUMN extra int' });
    await expectInSync();
  });

  it('16. CREATE EXTENSION not available on the target: stop, naming it', async () => {
    const available = (await pair.tgt(`SELECT count(*)::int AS n FROM pg_available_extensions WHERE name = 'adminpack'`)).rows[0].n;
    expect(available).toBe(0); // PostgreSQL 17 removed adminpack; 15 still ships it
    const before = await lastLogId();
    await pair.src('CREATE EXTENSION adminpack');
    const id = await expectStoppedOn(/extension adminpack is not available on the target/);
    expect(id).toBe(before + 1);
    expect(await subscriptionEnabled()).toBe(true); // retrying, not disabled
    const r = await report(false);
    expect(r.stoppedOn?.commandTags).toEqual(['CREATE EXTENSION']);
    // The operator accepts the target without it; the source drops it again.
    await resolveAndResume(id, { markApplied: true });
    await pair.src('DROP EXTENSION IF EXISTS adminpack');
    await expectInSync();
  });

  it('17. a Flyway-style migration: several statements in one transaction, plus its history row', async () => {
    await tx([
      'CREATE TABLE public.invoice (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, article_id int NOT NULL, amount numeric(12,2) NOT NULL)',
      'CREATE INDEX invoice_article ON public.invoice (article_id)',
      'ALTER TABLE shop.article ADD COLUMN price numeric(12,2)',
      `COMMENT ON TABLE public.invoice IS 'V7 migration'`,
      `INSERT INTO flyway_schema_history VALUES (7, '7', 'invoices', true)`,
      'INSERT INTO invoice (article_id, amount) VALUES (5007, 12.5)',
    ]);
    await expectInSync();
    expect((await pair.tgt(`SELECT description FROM flyway_schema_history WHERE installed_rank = 7`)).rows[0].description).toBe('invoices');
  });

  it('18. while DDL is frozen: refused before any lock is taken; temporary tables allowed', async () => {
    const guard = await client(pair.sourceUrl);
    const holder = await client(pair.sourceUrl);
    try {
      expect(await freezeDdl(guard, 'test: full-load or cutover window')).toBe(true);
      // Another session holds a lock that any ALTER would wait for: a refusal that comes back at once took no lock.
      await holder.query('BEGIN');
      await holder.query('SELECT * FROM feeling LIMIT 1');
      const app = await client(pair.sourceUrl);
      try {
        await app.query(`SET lock_timeout = '5s'`);
        const err = await app.query('ALTER TABLE feeling ADD COLUMN frozen int').catch((e) => e);
        expect(err.code).toBe('55000');
        expect(err.message).toMatch(/DDL is frozen by pgshift: ALTER TABLE refused/);
        const drop = await app.query('DROP TABLE nokey').catch((e) => e);
        expect(drop.code).toBe('55000');
        await app.query('CREATE TEMP TABLE scratch (x int)');
        await app.query('DROP TABLE scratch');
      } finally {
        await app.end();
      }
      await holder.query('COMMIT');
    } finally {
      expect(await unfreezeDdl(guard)).toBe(true);
      await guard.end();
      await holder.end();
    }
    await expectInSync();
  });

  it('every acknowledged write arrived; cleanup leaves nothing of pgshift on either side', async () => {
    const result = await workload.stop();
    expect(result.failed).toBe(0);
    expect(result.acknowledged).toBeGreaterThan(1000);
    await expectInSync();
    const target = await client(pair.targetUrl);
    try {
      expect((await checkLedger(target, result.ledger)).missing).toEqual([]);
    } finally {
      await target.end();
    }
    const cleaned = await runCleanup({ source: pair.source, target: pair.target, names, log: silentLogger });
    expect(cleaned.leftovers).toEqual([]);
    for (const side of [pair.src, pair.tgt]) {
      const left = await side(
        `SELECT (SELECT count(*) FROM pg_event_trigger)::int AS evt, (SELECT count(*) FROM pg_namespace WHERE nspname = '_pgshift')::int AS schema,
                (SELECT count(*) FROM pg_publication)::int AS pub, (SELECT count(*) FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()))::int AS sub,
                (SELECT count(*) FROM pg_replication_slots WHERE database = current_database())::int AS slots`,
      );
      expect(left.rows[0]).toEqual({ evt: 0, schema: 0, pub: 0, sub: 0, slots: 0 });
    }
  }, 300_000);
});
