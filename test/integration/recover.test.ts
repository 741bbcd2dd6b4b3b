/**
 * No signal and no crash leaves writes frozen (docs/design.md rule 12), with the real CLI in a
 * child process, application writes at 100/s through a real PgBouncer and a ledger of every
 * acknowledged write. The target's apply is held back inside the freeze only (test/support/hold-apply.ts:
 * the marker committed in the freeze waits for the test's lock), so cutover waits there until the test
 * has signalled or killed it.
 */
import { mkdtempSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCdc } from '../../src/engine/cdc/index.js';
import { runCleanup } from '../../src/engine/cleanup/cleanup.js';
import { runFullLoad } from '../../src/engine/full-load/full-load.js';
import { migrationNames } from '../../src/engine/names.js';
import { runRollback } from '../../src/engine/rollback/rollback.js';
import { ident, literal } from '../../src/postgres/sql.js';
import { loadFixture } from '../../src/rehearse/fixture/load.js';
import type { LocalPgBouncer } from '../../src/rehearse/pgbouncer-server.js';
import { checkLedger, ledgerTableDdl, startWorkload, type Workload } from '../../src/rehearse/workload.js';
import type { Logger } from '../../src/log/logger.js';
import { makeSwitch } from '../../src/switch/switch.js';
import { runCli, startCli, waitUntil } from '../support/cli.js';
import { createApplicationRole, startApplication } from '../support/application.js';
import { admin, freshPair, type TestPair } from '../support/databases.js';
import { holdApplyInsideFreeze } from '../support/hold-apply.js';

const DB = 'pgshift_recover';
const ENTRY = 'tasteam_rec';
const APP_ROLE = 'recover_app';
const READ_ONLY_ROLE = 'recover_reporter';
const APP_PASSWORD = `app-${Math.random().toString(36).slice(2)}`;
const NAME = 'rec_test';
const names = migrationNames(NAME);

let pair: TestPair;
let bouncer: LocalPgBouncer;
let stateDir: string;
let env: Record<string, string>;
let workload: Workload;
const log: Logger = { info: () => undefined, warn: () => undefined, progress: () => undefined };
const measured: Record<string, number> = {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function switchFlags(): string[] {
  return ['--name', NAME, '--switch', 'pgbouncer', '--pgbouncer-ini', bouncer.iniPath, '--pgbouncer-db', ENTRY];
}

beforeAll(async () => {
  pair = await freshPair(DB);
  stateDir = mkdtempSync(join(tmpdir(), 'pgshift-recover-state-'));
  const c = new pg.Client(pair.sourceUrl);
  c.on('error', () => undefined);
  await c.connect();
  await loadFixture(c, { rows: 200 });
  await c.query(ledgerTableDdl());
  await createApplicationRole(c, APP_ROLE, APP_PASSWORD);
  const exists = (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [READ_ONLY_ROLE])).rowCount;
  await c.query(`${exists ? 'ALTER' : 'CREATE'} ROLE ${ident(READ_ONLY_ROLE)} LOGIN PASSWORD ${literal(APP_PASSWORD)}`);
  // A role the owner made read-only in this database before pgshift came: it must stay read-only.
  await c.query(`ALTER ROLE ${ident(READ_ONLY_ROLE)} IN DATABASE ${ident(DB)} SET default_transaction_read_only = on`);
  await c.end();
  await runFullLoad({ source: pair.source, target: pair.target, names, jobs: 2, log });
  await startCdc({ source: pair.source, target: pair.target, names, log });
  const app = await startApplication(pair, ENTRY, APP_ROLE, APP_PASSWORD);
  bouncer = app.bouncer;
  env = {
    PGSHIFT_SOURCE_URL: pair.sourceUrl,
    PGSHIFT_TARGET_URL: pair.targetUrl,
    PGSHIFT_PGBOUNCER_ADMIN_URL: bouncer.adminUrl,
    PGSHIFT_APP_URL: app.url,
    PGSHIFT_STATE_DIR: stateDir,
  };
  workload = startWorkload({ url: app.url, ratePerSecond: 100, durationMs: 600_000 });
});

afterAll(async () => {
  await workload?.stop();
  await bouncer?.stop();
  await pair?.drop();
  console.log(`signal/crash to writes flowing again (ms): ${JSON.stringify(measured)}`);
});

/**
 * The source carries pgshift's freeze markers: the cutover is inside the write freeze. Read from
 * the `postgres` database (pg_db_role_setting is shared): the freeze ends every other session in
 * the migrated database, this probe's included.
 */
async function sourceFrozen(): Promise<boolean> {
  const r = await admin('source', 'postgres', (c) =>
    c.query(
      `SELECT count(*)::int AS n FROM pg_db_role_setting s, unnest(s.setconfig) c
      WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = $1) AND c = $2`,
      [DB, `pgshift.frozen_by=${NAME}`],
    ),
  );
  return r.rows[0].n > 0;
}

/** Login roles read-only in this database (role-in-database settings). */
async function readOnlyRoles(side: 'src' | 'tgt'): Promise<string[]> {
  const r = await pair[side](
    `SELECT r.rolname FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole, unnest(s.setconfig) c
      WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = $1) AND c = 'default_transaction_read_only=on' ORDER BY 1`,
    [DB],
  );
  return r.rows.map((x) => x.rolname);
}

async function pgbouncerState(): Promise<{ paused: boolean; port: number }> {
  const c = new pg.Client(bouncer.adminUrl);
  c.on('error', () => undefined);
  await c.connect();
  try {
    const row = (await c.query('SHOW DATABASES')).rows.find((r) => r.name === ENTRY);
    return { paused: Number(row.paused) === 1, port: Number(row.port) };
  } finally {
    await c.end();
  }
}

async function forwardStreaming(): Promise<boolean> {
  const r = await pair.tgt(`SELECT count(*)::int AS n FROM pg_stat_subscription WHERE subname = $1 AND pid IS NOT NULL`, [
    names.subscription,
  ]);
  return r.rows[0].n > 0;
}

describe('a signal inside the write freeze', () => {
  it('SIGTERM (then a second signal) runs the abort path: roles thawed, PgBouncer resumed, writes flow again on their own', async () => {
    const lock = await holdApplyInsideFreeze(pair.sourceUrl, pair.targetUrl);
    const cli = startCli(['cutover', ...switchFlags(), '--max-freeze', '120s'], env);
    try {
      await waitUntil('the cutover froze the source', sourceFrozen);
      const before = workload.snapshot().acknowledged;
      const signalledAt = Date.now();
      cli.child.kill('SIGTERM');
      await sleep(30);
      cli.child.kill('SIGINT'); // a second signal must not cut the undo short
      // The first acknowledged write after the signal: PgBouncer was paused, so none came in between.
      await waitUntil('a write is acknowledged', async () => workload.snapshot().acknowledged > before, 30_000);
      measured.sigtermToWrites = Date.now() - signalledAt;
      const code = await cli.exited;
      measured.sigtermToExit = Date.now() - signalledAt;
      expect(code, cli.stderr()).toBe(1);
      expect(cli.stderr()).toMatch(/SIGTERM received: undoing/);
      expect(cli.stderr()).toMatch(/cutover aborted: SIGTERM received/);
      // Writes flow again with nobody doing anything.
      await waitUntil('writes flow again', async () => workload.snapshot().acknowledged > before + 50, 30_000);
      expect(measured.sigtermToExit).toBeLessThan(7_500); // GitHub's SIGTERM follows SIGINT after 7.5 s
      expect(await sourceFrozen()).toBe(false);
      expect(await readOnlyRoles('src')).toEqual([READ_ONLY_ROLE]);
      expect(await pgbouncerState()).toEqual({ paused: false, port: pair.source.port });
    } finally {
      await lock.release();
    }
    await waitUntil('forward replication streams', forwardStreaming, 30_000);
    expect(workload.snapshot().failed).toBe(0);
  });
});

describe('SIGKILL inside the write freeze, then pgshift recover', () => {
  it('writes stay held until recover, which undoes the cutover; a second recover has nothing to do', async () => {
    const lock = await holdApplyInsideFreeze(pair.sourceUrl, pair.targetUrl);
    const cli = startCli(['cutover', ...switchFlags(), '--max-freeze', '120s'], env);
    try {
      await waitUntil('the cutover froze the source', sourceFrozen);
      process.kill(-cli.child.pid!, 'SIGKILL');
      expect(await cli.exited).toBe(137);
      // The freeze outlives the process; the apply may go on (held past wal_sender_timeout, the
      // walsender would drop it, and a disable_on_error subscription would stop).
      await lock.release();
      const held = workload.snapshot().acknowledged;
      await sleep(1_000);
      expect(workload.snapshot().acknowledged).toBe(held); // nothing undid the freeze

      const status = await runCli(['status', ...switchFlags(), '--json'], env);
      expect(status.code).toBe(1);
      const st = JSON.parse(status.stdout);
      expect(st.primary).toBe('source');
      expect(st.application.paused).toBe(true);
      expect(st.servers.source.freeze.switchoverInFlight).toMatch(/^rec_test cutover to target/);
      expect(st.next).toMatch(/pgshift recover/);

      const dry = await runCli(['recover', ...switchFlags(), '--dry-run', '--json'], env);
      expect(JSON.parse(dry.stdout).actions.every((a: { done: boolean }) => !a.done)).toBe(true);
      expect(await pgbouncerState()).toEqual({ paused: true, port: pair.source.port });

      const started = Date.now();
      const rec = await runCli(['recover', ...switchFlags(), '--json'], env);
      await waitUntil('a write is acknowledged', async () => workload.snapshot().acknowledged > held, 30_000);
      measured.recoverStartToWrites = Date.now() - started;
      expect(rec.code, rec.stderr).toBe(0);
      const r = JSON.parse(rec.stdout);
      expect(r.decision).toBe('undo');
      expect(r.primary).toBe('source');
      expect(r.postCheck.ok).toBe(true);
      await waitUntil('writes flow again', async () => workload.snapshot().acknowledged > held + 50, 30_000);
      expect(await readOnlyRoles('src')).toEqual([READ_ONLY_ROLE]);
      expect(await pgbouncerState()).toEqual({ paused: false, port: pair.source.port });

      const again = await runCli(['recover', ...switchFlags(), '--json'], env);
      expect(again.code, again.stderr).toBe(0);
      expect(JSON.parse(again.stdout).decision).toBe('nothing to do');
      expect(again.stderr).toMatch(/nothing to do/);
    } finally {
      await lock.release();
    }
    await waitUntil('forward replication streams', forwardStreaming, 30_000);
  });

  it('with the state directory lost (a new runner): recover still brings writes back, and a role read-only before stays read-only', async () => {
    const lock = await holdApplyInsideFreeze(pair.sourceUrl, pair.targetUrl);
    const cli = startCli(['cutover', ...switchFlags(), '--max-freeze', '120s'], env);
    try {
      await waitUntil('the cutover froze the source', sourceFrozen);
      process.kill(-cli.child.pid!, 'SIGKILL');
      await cli.exited;
      await lock.release();
      const held = workload.snapshot().acknowledged;
      const freshRunner = { ...env, PGSHIFT_STATE_DIR: mkdtempSync(join(tmpdir(), 'pgshift-new-runner-')) };
      const rec = await runCli(['recover', ...switchFlags(), '--json'], freshRunner);
      expect(rec.code, rec.stderr).toBe(0);
      await waitUntil('writes flow again', async () => workload.snapshot().acknowledged > held + 50, 30_000);
      expect(await sourceFrozen()).toBe(false);
      expect(await readOnlyRoles('src')).toEqual([READ_ONLY_ROLE]);
    } finally {
      await lock.release();
    }
    await waitUntil('forward replication streams', forwardStreaming, 30_000);
  });
});

describe('afterwards', () => {
  it('no write failed and no acknowledged write was lost, on either server', async () => {
    const result = await workload.stop();
    expect(result.failed).toBe(0);
    expect(result.acknowledged).toBeGreaterThan(500);
    for (const url of [pair.sourceUrl, pair.targetUrl]) {
      const c = new pg.Client(url);
      await c.connect();
      try {
        await waitUntil('the ledger is complete', async () => (await checkLedger(c, result.ledger)).missing.length === 0, 30_000);
      } finally {
        await c.end();
      }
    }
  });

  it('a cutover afterwards succeeds, and so does a rollback', async () => {
    const cut = await runCli(['cutover', ...switchFlags(), '--json'], env);
    expect(cut.code, cut.stderr).toBe(0);
    expect(JSON.parse(cut.stdout).postCheck.ok).toBe(true);
    expect((await pgbouncerState()).port).toBe(pair.target.port);
    const back = await runRollback({
      source: pair.source,
      target: pair.target,
      names,
      switch: makeSwitch({ kind: 'pgbouncer', adminUrl: bouncer.adminUrl, iniPath: bouncer.iniPath, dbEntry: ENTRY }),
      stateDir,
      log,
    });
    expect(back.mode).toBe('lossless');
    expect((await pgbouncerState()).port).toBe(pair.source.port);
  });

  it('a crash after replication was turned around: recover finishes the switch', async () => {
    const hookLog = join(stateDir, 'hook.log');
    const marker = join(stateDir, 'hook-started');
    // The hook hangs, so the cutover is killed with replication already turned around and the switch half done.
    // It writes its pid: pgshift runs it in a process group of its own (so a timeout ends its children), which
    // the CLI's SIGKILL does not reach, and this test ends what it started.
    const hanging = ['--name', NAME, '--switch', 'command', '--switch-command', `echo $$ > ${marker}; exec sleep 600`];
    const cli = startCli(['cutover', ...hanging], env);
    let hookPid = 0;
    await waitUntil('the switch hook runs', async () => {
      try {
        hookPid = Number(readFileSync(marker, 'utf8').trim());
        return hookPid > 0;
      } catch {
        return false;
      }
    });
    process.kill(-cli.child.pid!, 'SIGKILL');
    await cli.exited;
    process.kill(-hookPid, 'SIGKILL');
    const writing = ['--name', NAME, '--switch', 'command', '--switch-command', `echo "$PGSHIFT_NEW_PORT" >> ${hookLog}`];
    const rec = await runCli(['recover', ...writing, '--json'], { ...env, PGSHIFT_APP_URL: '' });
    expect(rec.code, rec.stderr).toBe(0);
    const r = JSON.parse(rec.stdout);
    expect(r.decision).toBe('finish');
    expect(r.primary).toBe('target');
    expect(readFileSync(hookLog, 'utf8').trim()).toBe(String(pair.target.port));
    // The old primary stays read-only (it is the replica now); the target takes writes.
    expect(await readOnlyRoles('src')).toContain(APP_ROLE);
    expect(await readOnlyRoles('tgt')).toEqual([]);
    const again = await runCli(['recover', ...writing, '--json'], { ...env, PGSHIFT_APP_URL: '' });
    expect(JSON.parse(again.stdout).decision).toBe('nothing to do');
    expect(readFileSync(hookLog, 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('cleanup leaves no subscription, publication or slot on either side', async () => {
    const r = await runCleanup({ source: pair.source, target: pair.target, names, log });
    expect(r.leftovers).toEqual([]);
    const count = `SELECT (SELECT count(*) FROM pg_replication_slots WHERE database = $1) + (SELECT count(*) FROM pg_publication)
                        + (SELECT count(*) FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = $1)) AS n`;
    const left = await Promise.all([pair.src(count, [DB]), pair.tgt(count, [DB])]);
    expect(left.map((x) => Number(x.rows[0].n))).toEqual([0, 0]);
  });
});
