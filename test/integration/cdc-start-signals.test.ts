/**
 * `cdc start` under SIGTERM and SIGKILL (docs/design.md rules 12–14), the real CLI in its dangerous
 * step: full-load's publication and slot exist, the DDL replay is set up on the target, and
 * CREATE SUBSCRIPTION is running. The window is a lock, not a delay: CREATE SUBSCRIPTION takes
 * ACCESS SHARE on every published table it registers, so an ACCESS EXCLUSIVE lock the test holds
 * on one target table keeps it waiting as long as the test wants. An application writes to the
 * source throughout; a ledger of its acknowledged ids proves nothing is lost.
 *
 * SIGTERM: the CLI cancels its own waiting statement, drops only what this run made (the DDL replay
 * schema on the target — not full-load's slot, publication or tables), says so, exits 1 while the
 * lock is still held. SIGKILL: the statement keeps waiting on the server; a second cdc start names
 * that session and changes nothing; once the lock goes it commits, and cdc start then finds the
 * subscription running and completes.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliProcess, runCli, startCli, waitUntil } from '../support/cli.js';
import { freshPair, type TestPair } from '../support/databases.js';
import { startLedgerWriter } from '../support/ledger-writer.js';

const DB = 'pgshift_cdc_start_signals';
const NAME = 'cdc_sig';
let pair: TestPair;
let env: Record<string, string>;

let writer: ReturnType<typeof startLedgerWriter>;

beforeAll(async () => {
  pair = await freshPair(DB);
  await pair.src('CREATE TABLE public.items (id int PRIMARY KEY, name text NOT NULL)');
  await pair.src(`INSERT INTO public.items SELECT g, 'item ' || g FROM generate_series(1, 1000) g`);
  await pair.src('CREATE TABLE public.write_ledger (id bigint PRIMARY KEY, note text NOT NULL)');
  // No key: with --create-helper-indexes cdc start gives it an index on the target — this run's, so its undo drops it.
  await pair.src('CREATE TABLE public.keyless (code int NOT NULL, note text)');
  await pair.src('ALTER TABLE public.keyless REPLICA IDENTITY FULL');
  await pair.src(`INSERT INTO public.keyless SELECT g, 'k' || g FROM generate_series(1, 200) g`);
  env = { PGSHIFT_SOURCE_URL: pair.sourceUrl, PGSHIFT_TARGET_URL: pair.targetUrl };
  writer = startLedgerWriter(pair.sourceUrl);
  await waitUntil('the application writes', async () => writer.acknowledged.length >= 20);
  const load = await runCli(['full-load', '--name', NAME, '--jobs', '2'], env);
  if (load.code !== 0) throw new Error(`full-load failed: ${load.stderr}`);
}, 180_000);

afterAll(async () => {
  await writer?.stop();
  await pair?.drop();
});

/** A session of the test on the target holding ACCESS EXCLUSIVE on public.items until released. */
async function lockItemsOnTarget(): Promise<pg.Client> {
  const c = new pg.Client(pair.targetUrl);
  c.on('error', () => undefined);
  await c.connect();
  await c.query('BEGIN');
  await c.query('LOCK TABLE public.items IN ACCESS EXCLUSIVE MODE');
  return c;
}

/** Backend pids of CREATE SUBSCRIPTION statements on the target waiting on a lock. */
async function waitingCreateSubscription(): Promise<number[]> {
  const r = await pair.tgt(
    `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND query ILIKE 'CREATE SUBSCRIPTION%'`,
    [DB],
  );
  return r.rows.map((row) => row.pid);
}

async function startInWindow(extra: string[] = []): Promise<{ cli: CliProcess; statement: number[] }> {
  const cli = startCli(['cdc', 'start', '--name', NAME, ...extra], env);
  let statement: number[] = [];
  await waitUntil('CREATE SUBSCRIPTION waits on the lock', async () => (statement = await waitingCreateSubscription()).length > 0).catch(
    async (err) => {
      cli.child.kill('SIGKILL');
      await cli.exited;
      throw new Error(`${(err as Error).message}; the CLI said:\n${cli.stderr()}`);
    },
  );
  return { cli, statement };
}

/** What this migration has on both servers; full-load's part must survive a stopped cdc start. */
async function state() {
  const slot = await pair.src('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [NAME]);
  const pub = await pair.src('SELECT count(*)::int AS n FROM pg_publication WHERE pubname = $1', [NAME]);
  const capture = await pair.src(`SELECT count(*)::int AS n FROM pg_event_trigger WHERE evtname LIKE 'pgshift%'`);
  const subs = await pair.tgt(
    `SELECT subname, subenabled FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  const replaySchema = await pair.tgt(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = '_pgshift'`);
  const keylessIndexes = await pair.tgt(`SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'keyless'`);
  // Not public.items: the test's lock on it would hold this count too.
  const ledger = await pair.tgt('SELECT count(*)::int AS n FROM public.write_ledger');
  return {
    slot: slot.rows[0] ? (slot.rows[0].active ? 'active' : 'inactive') : 'missing',
    publication: pub.rows[0].n === 1,
    captureTriggers: capture.rows[0].n,
    subscriptions: subs.rows.map((r) => `${r.subname}${r.subenabled ? '' : ' (disabled)'}`),
    replaySchemaOnTarget: replaySchema.rows[0].n === 1,
    keylessIndexesOnTarget: keylessIndexes.rows[0].n,
    ledgerRowsOnTarget: ledger.rows[0].n,
  };
}

describe('cdc start under SIGTERM and SIGKILL', () => {
  let before: Awaited<ReturnType<typeof state>>;

  it('SIGTERM while CREATE SUBSCRIPTION waits: undoes only what this run made, says so in one line, exits 1 with the lock still held', async () => {
    before = await state();
    expect(before).toMatchObject({
      slot: 'inactive',
      publication: true,
      subscriptions: [],
      replaySchemaOnTarget: false,
      keylessIndexesOnTarget: 0,
    });
    const holder = await lockItemsOnTarget();
    try {
      const { cli, statement } = await startInWindow(['--create-helper-indexes']);
      const signalledAt = Date.now();
      cli.child.kill('SIGTERM');
      const code = await cli.exited;
      const exitMs = Date.now() - signalledAt;
      console.log(`cdc start: SIGTERM inside CREATE SUBSCRIPTION to exit ${exitMs} ms`);
      expect(code, cli.stderr()).toBe(1);
      expect(exitMs).toBeLessThan(7_500);
      expect(cli.stderr()).toMatch(
        /cdc start stopped by SIGTERM: dropped what this run created: schema _pgshift on the target, helper index \S+ on the target; full-load's slot cdc_sig and publication cdc_sig stay/,
      );
      expect(cli.stderr().trim().split('\n').at(-1)).toMatch(/^pgshift: SIGTERM received/);
      // The lock is still held: the statement was cancelled, not finished.
      expect((await holder.query('SELECT 1 AS held')).rows[0].held).toBe(1);
      const r = await pair.tgt('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY($1::int[])', [statement]);
      expect(r.rows[0].n).toBe(0);
      // Only what this run made is gone: full-load's slot, publication, DDL capture and the copied rows stay.
      expect(await state()).toEqual(before);
    } finally {
      await holder.end();
    }
  });

  it('SIGKILL while CREATE SUBSCRIPTION waits: a second start names the waiting statement and changes nothing', async () => {
    const holder = await lockItemsOnTarget();
    try {
      const { cli, statement } = await startInWindow();
      cli.child.kill('SIGKILL');
      expect(await cli.exited).toBe(128 + 9);
      const killed = await state();
      const status = await runCli(['status', '--name', NAME, '--json'], env);
      const seen = JSON.parse(status.stdout);
      expect(seen.primary).toBe('source');
      console.log(
        `status while the killed run's CREATE SUBSCRIPTION waits: exit ${status.code}, verdict ${seen.verdict}, next: ${seen.next}`,
      );
      const again = await runCli(['cdc', 'start', '--name', NAME], env);
      expect(again.code, again.stderr).toBe(2);
      expect(again.stderr).toMatch(
        new RegExp(
          `an earlier cdc start's CREATE SUBSCRIPTION cdc_sig is still running on the target .*: pid ${statement[0]} \\(waiting on a lock.*SELECT pg_cancel_backend\\(${statement[0]}\\);`,
        ),
      );
      expect(again.stderr).not.toMatch(/password|postgres:\/\//);
      expect(await state()).toEqual(killed);
    } finally {
      // What the killed run's statement waited for goes away: it commits on its own.
      await holder.end();
    }
  });

  it('after SIGKILL, once the lock is gone: status is sane, cdc start completes, and every acknowledged write reaches the target', async () => {
    await waitUntil('the killed run’s subscription committed', async () => (await state()).subscriptions.length === 1);
    const status = await runCli(['status', '--name', NAME, '--json'], env);
    expect(status.stderr).not.toMatch(/password/);
    const seen = JSON.parse(status.stdout);
    // The source stays the primary, and the link the killed run made is there and enabled.
    expect(seen.primary).toBe('source');
    expect(
      seen.links.some(
        (l: { subscriptionExists: boolean; slotExists: boolean; enabled: boolean }) => l.subscriptionExists && l.slotExists && l.enabled,
      ),
    ).toBe(true);
    console.log(`status after the killed run's subscription committed: exit ${status.code}, verdict ${seen.verdict}, next: ${seen.next}`);
    const again = await runCli(['cdc', 'start', '--name', NAME], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr + again.stdout).toMatch(
      /already exists on the target .*, enabled, on slot cdc_sig \(made by an earlier cdc start\): nothing to create/,
    );
    expect(again.stdout).toMatch(/an earlier cdc start had made it: nothing was changed/);

    await writer.stop();
    expect(writer.failures).toEqual([]);
    const lsn = (await pair.src('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0].lsn;
    await waitUntil('the slot confirms every write', async () => {
      const r = await pair.src('SELECT confirmed_flush_lsn >= $2::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $1', [
        NAME,
        lsn,
      ]);
      return r.rows[0]?.ok === true;
    });
    const onTarget = await pair.tgt('SELECT id FROM public.write_ledger ORDER BY id');
    expect(onTarget.rows.map((r) => Number(r.id))).toEqual(writer.acknowledged);
    expect(await state()).toMatchObject({
      slot: 'active',
      publication: true,
      subscriptions: [NAME],
      replaySchemaOnTarget: true,
    });
    console.log(`cdc start signals: ${writer.acknowledged.length} acknowledged writes, all on the target; status exit ${status.code}`);
    const stop = await runCli(['cdc', 'stop', '--name', NAME], env);
    expect(stop.code, stop.stderr).toBe(0);
  });
});
