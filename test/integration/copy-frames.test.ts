/**
 * CopyOutFrames -> CopyInFrames between the real source (15) and target (17) servers: the
 * CopyData frames pass through unparsed, so what a user checks is that the target ends up with
 * exactly the source's rows, that the counts are right, and that both sessions can carry on
 * after a copy (it succeeded or failed) — a copy worker reuses its sessions for the next chunk.
 */
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CopyInFrames, CopyOutFrames } from '../../src/postgres/copy-frames.js';
import { freshPair, type TestPair } from '../support/databases.js';

const SMALL_ROWS = 300_000;
const BIG_ROWS = 8;
/**
 * Failure cases stream generated rows, far more than the socket and stream buffers hold, so
 * the failing side still has data in flight when the error comes. (The 300k-row table above is
 * only 3 MB of COPY text: the source has sent all of it before the target reaches a bad row in
 * its middle, and the failure is then not "mid-copy" at all.) Rows of ~210 bytes make it
 * unlikely that a socket write happens to end exactly on a frame boundary.
 */
const GENERATED_ROWS = 300_000;
const GENERATED = `SELECT i, repeat('r', 200) || i FROM generate_series(1, ${GENERATED_ROWS}) i`;
/** 40 rows of 3.2 MB: every CopyData frame spans many socket reads and writes. */
const GENERATED_BIG_ROWS = 40;
const GENERATED_BIG = `SELECT i, repeat(md5(i::text), 100000) FROM generate_series(1, ${GENERATED_BIG_ROWS}) i`;
/** A hang must fail the test, not block the run. */
const TIMEOUT = 90_000;

let pair: TestPair;
const opened: pg.Client[] = [];

async function client(url: string): Promise<pg.Client> {
  const c = new pg.Client(url);
  c.on('error', () => undefined);
  await c.connect();
  opened.push(c);
  return c;
}

/** A fresh source and target session for one test, so one test's broken session cannot fail another. */
async function clients(): Promise<{ source: pg.Client; target: pg.Client }> {
  return { source: await client(pair.sourceUrl), target: await client(pair.targetUrl) };
}

/** Resolves with the query's rows, or rejects if the session does not answer within `ms`. */
async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The session answers a query (within 10 s: a session left in COPY mode or detached never does). */
async function answers(c: pg.Client, what: string): Promise<number> {
  const r = await within(10_000, `${what} SELECT 1`, c.query('SELECT 1 AS one'));
  return r.rows[0].one as number;
}

/** Ordered hash of a table's rows, computed by the server that holds them. */
async function tableHash(c: pg.Client, table: string): Promise<{ n: number; h: string | null }> {
  const r = await c.query(`SELECT count(*)::int AS n, md5(string_agg(md5(t::text), ',' ORDER BY id)) AS h FROM ${table} t`);
  return r.rows[0];
}

/** The COPY payload size as pg-copy-streams sees it: the sum of every CopyData payload. */
async function copyStreamsPayload(sql: string): Promise<number> {
  const c = await client(pair.sourceUrl);
  try {
    const stream = c.query(copyTo(sql));
    let bytes = 0;
    for await (const chunk of stream) bytes += (chunk as Buffer).length;
    return bytes;
  } finally {
    await c.end();
  }
}

async function copy(source: pg.Client, target: pg.Client, outSql: string, inSql: string) {
  const out = source.query(new CopyOutFrames(outSql));
  const into = target.query(new CopyInFrames(inSql));
  const done = pipeline(out, into);
  // Observed by the caller; this only keeps an early rejection from being reported as unhandled.
  done.catch(() => undefined);
  return { out, into, done };
}

beforeAll(async () => {
  pair = await freshPair('pgshift_copy_frames');
  await pair.src(`
    CREATE TABLE small (id int PRIMARY KEY, t text NOT NULL);
    INSERT INTO small SELECT i, 'r' || i FROM generate_series(1, ${SMALL_ROWS}) i;
    -- 1 to 3 MB of varied bytes per row, plus 1.6 MB of text: each row is bigger than a socket read.
    CREATE TABLE big (id int PRIMARY KEY, b bytea NOT NULL, t text NOT NULL);
    INSERT INTO big
      SELECT i,
             (SELECT decode(string_agg(md5(i || ':' || g), ''), 'hex') FROM generate_series(1, 65536 * (1 + i % 3)) g),
             repeat(md5(i::text), 50000)
        FROM generate_series(1, ${BIG_ROWS}) i;
    CREATE TABLE empty_t (id int PRIMARY KEY, t text);
    CREATE FUNCTION noisy(i int) RETURNS int LANGUAGE plpgsql AS $$
    BEGIN
      -- Long notices, often enough that some of them straddle socket chunk boundaries.
      IF i % 1000 = 0 THEN RAISE NOTICE 'noisy % %', i, repeat('x', 3000); END IF;
      RETURN i;
    END $$;
  `);
  await pair.tgt(`
    CREATE TABLE small (id int PRIMARY KEY, t text NOT NULL);
    CREATE TABLE big (id int PRIMARY KEY, b bytea NOT NULL, t text NOT NULL);
    CREATE TABLE empty_t (id int PRIMARY KEY, t text);
    CREATE TABLE one_col (i int);
    CREATE TABLE checked (id int NOT NULL, t text NOT NULL, CHECK (id <> ${GENERATED_ROWS / 2}));
    CREATE TABLE checked_big (id int NOT NULL, t text NOT NULL, CHECK (id <> ${GENERATED_BIG_ROWS / 2}));
    -- A target slower than the source (the usual case: indexes, WAL, TOAST): the copy streams back up.
    CREATE TABLE slow_big (id int NOT NULL, t text NOT NULL);
    CREATE FUNCTION slow_down() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.05); RETURN NEW; END $$;
    CREATE TRIGGER slow_down BEFORE INSERT ON slow_big FOR EACH ROW EXECUTE FUNCTION slow_down();
  `);
}, 300_000);

afterAll(async () => {
  for (const c of opened) {
    // A session this module broke may never answer a Terminate; do not let it hold up the run.
    await within(5_000, 'end', c.end()).catch(() =>
      (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy(),
    );
  }
  await pair?.drop();
});

describe('CopyOutFrames -> CopyInFrames between PostgreSQL 15 and 17', () => {
  for (const [table, rows] of [
    ['small', SMALL_ROWS],
    ['big', BIG_ROWS],
  ] as const) {
    for (const format of ['text', 'binary'] as const) {
      const opt = format === 'binary' ? ' (FORMAT binary)' : '';
      it(
        `copies ${table} rows in ${format} format: the target equals the source`,
        async () => {
          const { source, target } = await clients();
          await target.query(`TRUNCATE ${table}`);
          const outSql = `COPY ${table} (id, ${table === 'big' ? 'b, t' : 't'}) TO STDOUT${opt}`;
          const { out, into, done } = await copy(
            source,
            target,
            outSql,
            `COPY ${table} (id, ${table === 'big' ? 'b, t' : 't'}) FROM STDIN${opt}`,
          );
          await done;

          const [onSource, onTarget] = await Promise.all([tableHash(source, table), tableHash(target, table)]);
          expect(onSource.n).toBe(rows);
          expect(onTarget).toEqual(onSource);
          expect(into.rowCount).toBe(rows);
          // The source's CommandComplete has been read once the session has answered the next query.
          expect(await answers(source, 'source')).toBe(1);
          expect(out.rowCount).toBe(rows);
          expect(out.payloadBytes).toBeGreaterThan(0);
          expect(out.payloadBytes).toBe(await copyStreamsPayload(outSql));
          if (table === 'big') expect(out.payloadBytes).toBeGreaterThan(BIG_ROWS * 2_000_000);
          expect(await answers(target, 'target')).toBe(1);
        },
        TIMEOUT,
      );
    }
  }

  it(
    'copies an empty table in text and binary, and both sessions carry on',
    async () => {
      const { source, target } = await clients();
      for (const opt of ['', ' (FORMAT binary)']) {
        const outSql = `COPY empty_t TO STDOUT${opt}`;
        const { out, into, done } = await copy(source, target, outSql, `COPY empty_t FROM STDIN${opt}`);
        await done;
        expect(into.rowCount).toBe(0);
        expect(await answers(source, 'source')).toBe(1);
        expect(await answers(target, 'target')).toBe(1);
        expect(out.rowCount).toBe(0);
        // Text: nothing at all; binary: only the file header and trailer.
        expect(out.payloadBytes).toBe(await copyStreamsPayload(outSql));
        expect(out.payloadBytes).toBe(opt ? 21 : 0);
      }
      expect((await target.query('SELECT count(*)::int AS n FROM empty_t')).rows[0].n).toBe(0);
    },
    TIMEOUT,
  );

  it(
    'passes over notices raised during COPY TO: data intact, and the source session still reports them',
    async () => {
      const { source, target } = await clients();
      const notices: string[] = [];
      source.on('notice', (n) => notices.push(n.message ?? ''));
      await target.query('TRUNCATE one_col');
      const { into, done } = await copy(
        source,
        target,
        `COPY (SELECT noisy(i) FROM generate_series(1, 50000) i) TO STDOUT`,
        `COPY one_col (i) FROM STDIN`,
      );
      await done;

      expect(into.rowCount).toBe(50_000);
      const expected = await source.query(`SELECT md5(string_agg(i::text, ',' ORDER BY i)) AS h FROM generate_series(1, 50000) i`);
      const got = await target.query(
        `SELECT count(*)::int AS n, sum(i)::bigint::text AS s, md5(string_agg(i::text, ',' ORDER BY i)) AS h FROM one_col`,
      );
      expect(got.rows[0]).toEqual({ n: 50_000, s: String((50_000 * 50_001) / 2), h: expected.rows[0].h });
      expect(await answers(source, 'source')).toBe(1);
      expect(notices).toEqual(Array.from({ length: 50 }, (_, k) => `noisy ${(k + 1) * 1000} ${'x'.repeat(3000)}`));
      expect(await answers(target, 'target')).toBe(1);
    },
    TIMEOUT,
  );

  it(
    "rejects with the source's error when COPY TO fails midway, leaves no rows, and both sessions carry on",
    async () => {
      const { source, target } = await clients();
      await target.query('TRUNCATE one_col');
      // 1/(i - 40000), not 1/0: a constant 1/0 is folded when the query is planned, before any row is sent.
      const { out, done } = await copy(
        source,
        target,
        `COPY (SELECT CASE WHEN i = 40000 THEN 1/(i - 40000) ELSE i END FROM generate_series(1, 100000) i) TO STDOUT`,
        `COPY one_col (i) FROM STDIN`,
      );
      await expect(within(30_000, 'pipeline', done)).rejects.toThrow(/division by zero/);
      // Rows 1..39999 had been sent: the failure came in the middle of the data.
      expect(out.payloadBytes).toBeGreaterThan(200_000);
      expect(await answers(source, 'source')).toBe(1);
      expect(await answers(target, 'target')).toBe(1);
      expect((await target.query('SELECT count(*)::int AS n FROM one_col')).rows[0].n).toBe(0);
      expect((await pair.tgt('SELECT count(*)::int AS n FROM one_col')).rows[0].n).toBe(0);
    },
    TIMEOUT,
  );

  it(
    "rejects with the source's error when COPY TO of big rows fails midway while the target lags, and both sessions carry on",
    async () => {
      const { source, target } = await clients();
      const { out, done } = await copy(
        source,
        target,
        `COPY (SELECT i, CASE WHEN i = 20 THEN (1/(i - 20))::text ELSE repeat(md5(i::text), 100000) END FROM generate_series(1, 40) i) TO STDOUT`,
        `COPY slow_big (id, t) FROM STDIN`,
      );
      await expect(within(30_000, 'pipeline', done)).rejects.toThrow(/division by zero/);
      expect(out.payloadBytes).toBeGreaterThan(19 * 3_200_000);
      expect(await answers(source, 'source')).toBe(1);
      expect(await answers(target, 'target')).toBe(1);
      expect((await pair.tgt('SELECT count(*)::int AS n FROM slow_big')).rows[0].n).toBe(0);
    },
    TIMEOUT,
  );

  for (const [rows, table, sql] of [
    ['small', 'checked', GENERATED],
    ['big', 'checked_big', GENERATED_BIG],
  ] as const) {
    it(
      `rejects with the target's error when COPY FROM of ${rows} rows fails midway, and the target session carries on`,
      async () => {
        const { source, target } = await clients();
        const { done } = await copy(source, target, `COPY (${sql}) TO STDOUT`, `COPY ${table} (id, t) FROM STDIN`);
        await expect(within(60_000, 'pipeline', done)).rejects.toThrow(new RegExp(`violates check constraint "${table}_id_check"`));
        expect(await answers(target, 'target')).toBe(1);
        expect((await target.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n).toBe(0);
      },
      TIMEOUT,
    );

    it(
      `after the target fails midway (${rows} rows), the source session carries on too (a copy worker ends its snapshot transaction with it)`,
      async () => {
        const { source, target } = await clients();
        const { done } = await copy(source, target, `COPY (${sql}) TO STDOUT`, `COPY ${table} (id, t) FROM STDIN`);
        await expect(within(60_000, 'pipeline', done)).rejects.toThrow(/violates check constraint/);
        expect(await answers(source, 'source')).toBe(1);
      },
      TIMEOUT,
    );
  }

  it(
    'rejects when COPY TO fails before any data (no such table), and both sessions carry on',
    async () => {
      const { source, target } = await clients();
      await target.query('TRUNCATE one_col');
      const { done } = await copy(source, target, `COPY no_such_table TO STDOUT`, `COPY one_col (i) FROM STDIN`);
      await expect(within(30_000, 'pipeline', done)).rejects.toThrow(/relation "no_such_table" does not exist/);
      expect(await answers(source, 'source')).toBe(1);
      expect(await answers(target, 'target')).toBe(1);
      expect((await target.query('SELECT count(*)::int AS n FROM one_col')).rows[0].n).toBe(0);
    },
    TIMEOUT,
  );
});
