/**
 * full-load under SIGTERM while its child processes run (docs/design.md rules 12–14): the real CLI
 * is signalled (its own pid only, not its process group) while pg_dump, then pg_restore, waits on a
 * lock the test holds. The CLI must stop the tool itself — no pg_dump/pg_restore it started may
 * survive it, nor their sessions — undo what its run made, and exit 1 while the lock is still held:
 * nothing in the abort path waits for the tool's step to finish.
 *
 * The windows are made by locks, not by timing: pg_dump takes ACCESS SHARE on every table it
 * dumps, so an ACCESS EXCLUSIVE lock held on one source table stops it; pg_restore's first
 * pre-data statement is CREATE SCHEMA app, which waits on an uncommitted CREATE SCHEMA app of the
 * test's own session on the target (the unique name index). Neither lock is in the undo's way.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliProcess, descendants, runCli, startCli, stillRunning, waitUntil } from '../support/cli.js';
import { admin, freshPair, type TestPair } from '../support/databases.js';

const DB = 'pgshift_load_signals_tools';
const NAME = 'load_tools';
/** Owner of app.other on the source, missing on the target: full-load creates it there before pg_dump runs. */
const ROLE = 'load_tools_owner';
let pair: TestPair;
let env: Record<string, string>;

beforeAll(async () => {
  pair = await freshPair(DB);
  await pair.src('CREATE SCHEMA app');
  await pair.src('CREATE TABLE app.held (id int PRIMARY KEY, note text)');
  await pair.src(`INSERT INTO app.held SELECT g, 'h' || g FROM generate_series(1, 2000) g`);
  await pair.src('CREATE TABLE app.other (id int PRIMARY KEY, v int)');
  await pair.src('INSERT INTO app.other SELECT g, g FROM generate_series(1, 500) g');
  await dropRole();
  await pair.src(`CREATE ROLE ${ROLE} NOLOGIN`);
  await pair.src(`ALTER TABLE app.other OWNER TO ${ROLE}`);
  env = { PGSHIFT_SOURCE_URL: pair.sourceUrl, PGSHIFT_TARGET_URL: pair.targetUrl };
});

afterAll(async () => {
  await pair?.drop();
  await dropRole();
});

/** Roles are cluster-wide: this file's own role goes with its databases. */
async function dropRole(): Promise<void> {
  for (const side of ['source', 'target'] as const) await admin(side, 'postgres', (c) => c.query(`DROP ROLE IF EXISTS ${ROLE}`));
}

async function holdOn(url: string, sql: string[]): Promise<pg.Client> {
  const c = new pg.Client(url);
  c.on('error', () => undefined);
  await c.connect();
  await c.query('BEGIN');
  for (const q of sql) await c.query(q);
  return c;
}

/** The backend pids of pgshift's sessions in the test's database on one side that wait on a lock in `statement`. */
async function waitingSessions(side: 'src' | 'tgt', statement: string): Promise<number[]> {
  const r = await pair[side](
    `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pgshift' AND wait_event_type = 'Lock' AND query ILIKE $2`,
    [DB, `${statement}%`],
  );
  return r.rows.map((row) => row.pid);
}

async function sessionsAlive(side: 'src' | 'tgt', pids: number[]): Promise<number> {
  const r = await pair[side]('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY($1::int[])', [pids]);
  return r.rows[0].n;
}

/**
 * SIGTERM to the CLI alone; returns how long until every process below it was gone and until it exited.
 * Asserts the tool was among its children and the lock holder still held its lock when they were gone.
 */
async function signalDuringTool(
  tool: 'pg_dump' | 'pg_restore',
  side: 'src' | 'tgt',
  statement: string,
  holder: pg.Client,
  whileStarting?: (cli: CliProcess) => Promise<void>,
) {
  const cli = startCli(['full-load', '--name', NAME, '--jobs', '2'], env);
  let toolSessions: number[] = [];
  await (async () => {
    await whileStarting?.(cli);
    await waitUntil(
      `${tool} waits on the test's lock`,
      async () => (toolSessions = await waitingSessions(side, statement)).length > 0,
      60_000,
    );
  })().catch(async (err) => {
    cli.child.kill('SIGKILL');
    await cli.exited;
    throw new Error(`${(err as Error).message}; the CLI said:\n${cli.stderr()}`);
  });
  const below = descendants(cli.child.pid!);
  expect(below.map((p) => p.comm)).toContain(tool);
  const signalledAt = Date.now();
  cli.child.kill('SIGTERM');
  await waitUntil(`every process the CLI started has ended`, async () => !below.some(stillRunning), 7_500);
  const childrenGoneMs = Date.now() - signalledAt;
  const code = await cli.exited;
  const exitMs = Date.now() - signalledAt;
  // The lock is still held: the tool was stopped, not finished.
  expect((await holder.query('SELECT 1 AS held')).rows[0].held).toBe(1);
  expect(await sessionsAlive(side, toolSessions)).toBe(0);
  // The run ends with one line saying why (the undo's lines come before it).
  expect(cli.stderr().trim().split('\n').at(-1)).toMatch(/^pgshift: SIGTERM received/);
  console.log(`full-load SIGTERM during ${tool}: children gone after ${childrenGoneMs} ms, exit after ${exitMs} ms`);
  return { cli, code };
}

async function sourceLeftovers(): Promise<number[]> {
  const slots = await pair.src('SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name = $1', [NAME]);
  const pubs = await pair.src('SELECT count(*)::int AS n FROM pg_publication WHERE pubname = $1', [NAME]);
  const triggers = await pair.src(`SELECT count(*)::int AS n FROM pg_event_trigger WHERE evtname LIKE 'pgshift%'`);
  return [slots.rows[0].n, pubs.rows[0].n, triggers.rows[0].n];
}

async function targetObjects(): Promise<number> {
  const r = await pair.tgt(
    `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'`,
  );
  return r.rows[0].n;
}

describe('full-load under SIGTERM while pg_dump / pg_restore run', () => {
  it('during pg_dump: the CLI ends pg_dump, drops its slot and publication, exits 1 while the source lock is still held', async () => {
    // An ACCESS EXCLUSIVE lock gets a transaction id, and the slot's snapshot waits for every one:
    // it is taken after the slot exists, while full-load's CREATE ROLE waits on the test's own
    // uncommitted CREATE ROLE on the target — so pg_dump cannot have locked the table first.
    const roleHolder = await holdOn(pair.targetUrl, [`CREATE ROLE ${ROLE} NOLOGIN`]);
    const holder = new pg.Client(pair.sourceUrl);
    holder.on('error', () => undefined);
    await holder.connect();
    try {
      const { cli, code } = await signalDuringTool('pg_dump', 'src', 'LOCK TABLE', holder, async () => {
        await waitUntil('full-load waits to create the missing role', async () => {
          const r = await pair.tgt(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND query ILIKE 'CREATE ROLE%'`,
            [DB],
          );
          return r.rows[0].n > 0;
        });
        await holder.query('BEGIN');
        await holder.query('LOCK TABLE app.held IN ACCESS EXCLUSIVE MODE');
        await roleHolder.query('ROLLBACK');
      });
      expect(code, cli.stderr()).toBe(1);
      expect(cli.stderr()).toMatch(/SIGTERM received: undoing/);
      expect(cli.stderr()).toMatch(
        /full-load stopped by a signal: dropped what this run created: .*replication slot load_tools.*publication load_tools/,
      );
      expect(await sourceLeftovers()).toEqual([0, 0, 0]);
      expect(await targetObjects()).toBe(0);
    } finally {
      await roleHolder.end();
      await holder.end();
    }
    // The source is as it was.
    expect((await pair.src('SELECT count(*)::int AS n FROM app.held')).rows[0].n).toBe(2000);
  });

  it('during pg_restore: the CLI ends pg_restore, empties what it loaded, drops slot and publication, exits 1', async () => {
    const holder = await holdOn(pair.targetUrl, ['CREATE SCHEMA app']);
    try {
      const { cli, code } = await signalDuringTool('pg_restore', 'tgt', 'CREATE SCHEMA', holder);
      expect(code, cli.stderr()).toBe(1);
      expect(cli.stderr()).toMatch(
        /full-load stopped by a signal: dropped what this run created: .*replication slot load_tools.*publication load_tools/,
      );
      expect(cli.stderr()).toMatch(/dropped on the .* what this run had loaded/);
      expect(await sourceLeftovers()).toEqual([0, 0, 0]);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    expect(await targetObjects()).toBe(0);
  });

  it('a full-load afterwards needs no --clean and copies everything', async () => {
    const r = await runCli(['full-load', '--name', NAME, '--jobs', '2', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    expect((await pair.tgt('SELECT count(*)::int AS n FROM app.held')).rows[0].n).toBe(2000);
    expect((await pair.tgt('SELECT count(*)::int AS n FROM app.other')).rows[0].n).toBe(500);
    await pair.src('SELECT pg_drop_replication_slot($1)', [NAME]);
    await pair.src(`DROP PUBLICATION ${NAME}`);
  });
});
