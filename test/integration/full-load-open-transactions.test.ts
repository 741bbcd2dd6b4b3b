/**
 * An application session left "idle in transaction" after an INSERT: the slot's snapshot cannot be
 * taken until it ends. full-load names it every 10 s, gives up after --wait-for-transactions with
 * exit 1 naming the pid and the line that ends it, and leaves nothing on either server.
 *
 * The source is a server of this file's own: slot creation waits for open transactions in every
 * database of a server, so a blocker on the shared server would hold up other files' full-loads.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cancelled } from '../../src/cancel.js';
import { runFullLoad } from '../../src/engine/full-load/full-load.js';
import { migrationNames } from '../../src/engine/names.js';
import { parseConnInfo } from '../../src/postgres/conninfo.js';
import { startLocalServer, type LocalServer } from '../../src/rehearse/local-server.js';
import { startCli } from '../support/cli.js';
import { freshPair, type TestPair } from '../support/databases.js';

let server: LocalServer;
let pair: TestPair;
let sourceUrl: string;
let blocker: pg.Client;
let blockerPid: number;

async function onSource<T>(fn: (c: pg.Client) => Promise<T>, url = sourceUrl): Promise<T> {
  const c = new pg.Client(url);
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** The abort path's one line: exactly the publication and the DDL guard this run made — no slot. */
const abortLine = () =>
  new RegExp(
    `full-load stopped by a signal: dropped what this run created: publication fl_block on the source 127\\.0\\.0\\.1:${server.port}/shop, DDL capture on the source[^,\\n]*, DDL freeze on the source[^,\\n]*$`,
    'm',
  );

beforeAll(async () => {
  server = await startLocalServer({ major: 15, name: 'fl-open-xact' });
  // The shared target gives this file its own empty database; the source database lives on the private server.
  pair = await freshPair('pgshift_fl_open_xact');
  await onSource((c) => c.query('CREATE DATABASE shop'), server.url('postgres'));
  sourceUrl = server.url('shop');
  await onSource(async (c) => {
    await c.query(
      `CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders SELECT i, 'order ' || i FROM generate_series(1, 500) i`,
    );
  });
  blocker = new pg.Client({ connectionString: sourceUrl, application_name: 'checkout-worker' });
  blocker.on('error', () => undefined);
  await blocker.connect();
  blockerPid = (await blocker.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  // The INSERT gives the transaction an id: from here on a new slot's snapshot waits for it.
  await blocker.query('BEGIN');
  await blocker.query(`INSERT INTO orders VALUES (501, 'left open')`);
});

afterAll(async () => {
  await blocker?.end().catch(() => undefined);
  await pair?.drop();
  await server?.destroy();
});

describe('full-load while a transaction stays open on the source', () => {
  it('names the blocking session every 10 s, gives up after --wait-for-transactions 20s with exit 1, and leaves nothing', async () => {
    const env = { PGSHIFT_SOURCE_URL: sourceUrl, PGSHIFT_TARGET_URL: pair.targetUrl };
    const cli = startCli(['full-load', '--name', 'fl_block', '--wait-for-transactions', '20s'], env);
    // The wait is observed: the first report names the blocker, with what a person needs to find it.
    const report = await cli.lineMatching(/the slot waits for/);
    expect(report).toContain(`pid ${blockerPid} (user postgres, application checkout-worker, database shop, idle in transaction, open `);
    const state = await blocker.query('SELECT 1 AS still_open');
    expect(state.rows).toEqual([{ still_open: 1 }]);

    const end = await cli.result;
    expect(end.code, end.stderr).toBe(1);
    const failure = end.stderr.split('\n').filter((l) => l.startsWith('pgshift:'));
    expect(failure).toHaveLength(1);
    expect(failure[0]).toMatch(/replication slot fl_block was not created: after 2\d s it still waited for 1 open transaction\(s\)/);
    expect(failure[0]).toContain(`pid ${blockerPid} (user postgres, application checkout-worker`);
    expect(failure[0]).toContain(`SELECT pg_terminate_backend(${blockerPid});`);
    // Reports came every 10 s: one at 10 s; the 20 s mark is the give-up.
    expect(cli.lines.filter((l) => l.includes('the slot waits for'))).toHaveLength(1);
    // The abort path names exactly what this run created: the publication, no slot.
    expect(end.stderr).toMatch(
      /full-load failed: dropped what this run created: publication fl_block on the source [^,]*, DDL capture on the source [^,]*, DDL freeze on the source [^,]*\n/,
    );
    expect(end.stderr).not.toMatch(/slot fl_block on the source/);
    expect(end.stderr).not.toContain(server.password);

    // Nothing left: no slot, no publication on the source, nothing on the target.
    const left = await onSource(
      async (c) =>
        (
          await c.query(
            `SELECT (SELECT count(*) FROM pg_replication_slots)::int AS slots, (SELECT count(*) FROM pg_publication)::int AS publications,
                    (SELECT count(*) FROM pg_event_trigger)::int AS event_triggers`,
          )
        ).rows[0],
    );
    expect(left).toEqual({ slots: 0, publications: 0, event_triggers: 0 });
    const onTarget = await pair.tgt(
      `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`,
    );
    expect(onTarget.rows[0].n).toBe(0);
    // The blocker was left alone: it is the operator's to end.
    expect((await blocker.query('SELECT count(*)::int AS n FROM orders')).rows[0].n).toBe(501);
  });

  it('a cancel (a signal) while the slot waits cancels the creation too: no slot appears once the transaction ends', async () => {
    const cancel = new AbortController();
    const lines: string[] = [];
    const log = {
      info: (l: string) => lines.push(l),
      progress: (l: string) => lines.push(l),
      warn: (l: string) => {
        lines.push(l);
        // Cancel as soon as the wait is observed.
        if (l.includes('the slot waits for')) cancel.abort(new Cancelled('SIGTERM'));
      },
    };
    const run = runFullLoad({
      source: parseConnInfo(sourceUrl, 'source'),
      target: pair.target,
      names: migrationNames('fl_block'),
      waitForTransactionsMs: 600_000,
      signal: cancel.signal,
      log,
    });
    const err = await run.catch((e) => e);
    expect(err).toBeInstanceOf(Cancelled);
    const dropped = lines.filter((l) => l.includes('dropped'));
    expect(dropped).toHaveLength(1);
    expect(dropped[0]).toMatch(abortLine());
    // No walsender of this run is left waiting: one would create the slot for good the moment the blocker ends.
    await blocker.query('COMMIT');
    const left = await onSource(
      async (c) =>
        (
          await c.query(
            `SELECT (SELECT count(*) FROM pg_replication_slots)::int AS slots, (SELECT count(*) FROM pg_publication)::int AS publications,
                    (SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgshift%')::int AS sessions`,
          )
        ).rows[0],
    );
    expect(left).toEqual({ slots: 0, publications: 0, sessions: 0 });
  });

  it('loads once the transaction has ended', async () => {
    const env = { PGSHIFT_SOURCE_URL: sourceUrl, PGSHIFT_TARGET_URL: pair.targetUrl };
    const end = await startCli(['full-load', '--name', 'fl_block', '--wait-for-transactions', '20s'], env).result;
    expect(end.code, end.stderr).toBe(0);
    expect(end.stderr).not.toContain('the slot waits for');
    expect((await pair.tgt('SELECT count(*)::int AS n FROM orders')).rows[0].n).toBe(501);
    await onSource((c) => c.query(`SELECT pg_drop_replication_slot('fl_block')`));
  });
});
