/**
 * full-load under SIGTERM (docs/design.md rule 12, rule 13): the real CLI, signalled while it
 * copies, drops exactly what its run made — the slot and the publication on the source, the
 * schema and rows on the target — and exits 1. The copy is made slow on the target only: a CHECK
 * constraint calls a function that sleeps on PostgreSQL 17 (the target) and not on 15 (the source).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli, waitUntil } from '../support/cli.js';
import { freshPair, type TestPair } from '../support/databases.js';

const DB = 'pgshift_load_signals';
const NAME = 'load_sig';
let pair: TestPair;
let env: Record<string, string>;

beforeAll(async () => {
  pair = await freshPair(DB);
  const c = new pg.Client(pair.sourceUrl);
  await c.connect();
  await c.query(`CREATE FUNCTION public.slow_on_target(v int) RETURNS boolean LANGUAGE plpgsql AS $$
    BEGIN IF current_setting('server_version_num')::int >= 170000 THEN PERFORM pg_sleep(0.005); END IF; RETURN v IS NOT NULL; END $$`);
  await c.query('CREATE TABLE public.slow_copy (id int PRIMARY KEY, v int CHECK (public.slow_on_target(v)))');
  await c.query('INSERT INTO public.slow_copy SELECT g, g FROM generate_series(1, 4000) g');
  await c.query('CREATE TABLE public.plain (id int PRIMARY KEY, note text)');
  await c.query(`INSERT INTO public.plain SELECT g, 'n' || g FROM generate_series(1, 1000) g`);
  await c.end();
  env = { PGSHIFT_SOURCE_URL: pair.sourceUrl, PGSHIFT_TARGET_URL: pair.targetUrl };
});

afterAll(async () => {
  await pair?.drop();
});

describe('full-load under SIGTERM', () => {
  it('drops the slot, the publication and what it loaded on the target, then exits 1', async () => {
    const cli = startCli(['full-load', '--name', NAME, '--jobs', '1'], env);
    await waitUntil(
      'the copy into slow_copy runs on the target',
      async () =>
        (await pair.tgt(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'COPY%slow_copy%'`, [DB]))
          .rows[0].n > 0,
      120_000,
    );
    const signalledAt = Date.now();
    cli.child.kill('SIGTERM');
    const code = await cli.exited;
    const ms = Date.now() - signalledAt;
    console.log(`full-load: SIGTERM to exit ${ms} ms`);
    expect(code, cli.stderr()).toBe(1);
    expect(ms).toBeLessThan(7_500);
    expect(cli.stderr()).toMatch(/SIGTERM received: undoing/);
    expect(cli.stderr()).toMatch(
      /full-load stopped by a signal: dropped what this run created: .*replication slot load_sig.*publication load_sig/,
    );
    expect(cli.stderr()).toMatch(/dropped on the .* what this run had loaded \(.*schema public/);
    const slots = await pair.src(`SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name = $1`, [NAME]);
    const pubs = await pair.src(`SELECT count(*)::int AS n FROM pg_publication WHERE pubname = $1`, [NAME]);
    const tables = await pair.tgt(
      `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'`,
    );
    const fns = await pair.tgt(`SELECT count(*)::int AS n FROM pg_proc WHERE proname = 'slow_on_target'`);
    expect([slots.rows[0].n, pubs.rows[0].n, tables.rows[0].n, fns.rows[0].n]).toEqual([0, 0, 0, 0]);
    // The source is as it was.
    expect((await pair.src('SELECT count(*)::int AS n FROM public.slow_copy')).rows[0].n).toBe(4000);
  });

  it('a full-load afterwards needs no --clean and succeeds', async () => {
    const r = await runCli(['full-load', '--name', NAME, '--jobs', '2', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    expect((await pair.tgt('SELECT count(*)::int AS n FROM public.plain')).rows[0].n).toBe(1000);
    await pair.src('SELECT pg_drop_replication_slot($1)', [NAME]);
    await pair.src(`DROP PUBLICATION ${NAME}`);
  });
});
