/**
 * The PgBouncer switch on real servers: a real PgBouncer (run as postgres) in front of the
 * shared source, application traffic at 200 writes/s through it, and the switch to the target
 * in the middle of it.
 */
import { chmodSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgshiftError } from '../../src/errors.js';
import { ident, literal, quoteRelation } from '../../src/postgres/sql.js';
import { freePort } from '../../src/rehearse/local-server.js';
import { startPgBouncer, type LocalPgBouncer } from '../../src/rehearse/pgbouncer-server.js';
import { checkLedger, ledgerTableDdl, startWorkload, worstLatency } from '../../src/rehearse/workload.js';
import {
  pauseDatabase,
  pointDatabaseAt,
  readDatabaseTarget,
  resumeDatabase,
  rewriteEntry,
  showDatabase,
} from '../../src/switch/pgbouncer.js';
import { makeSwitch } from '../../src/switch/switch.js';
import { freshPair, type TestPair } from '../support/databases.js';
import { withUrl } from '../../src/postgres/connect.js';

const DB = 'switch_pgbouncer';
const ENTRY = 'tasteam';
const APP_ROLE = 'switch_pgb_app';
const APP_PASSWORD = `app-${Math.random().toString(36).slice(2)}`;
/** The target's keys start here, as if the cutover had moved its sequence past the source's. */
const TARGET_ID_START = 1_000_000;

let pair: TestPair;
let bouncer: LocalPgBouncer;

async function runToEnd(workload: ReturnType<typeof startWorkload>) {
  await workload.finished;
  return workload.stop();
}

/** The application's own role, with the same password on both servers (as it must be for a PgBouncer switch). */
async function createAppRole(run: TestPair['src']): Promise<void> {
  const exists = (await run('SELECT 1 FROM pg_roles WHERE rolname = $1', [APP_ROLE])).rowCount;
  // CREATE/ALTER ROLE take no bind parameters; the password is quoted as a literal.
  await run(`${exists ? 'ALTER' : 'CREATE'} ROLE ${ident(APP_ROLE)} LOGIN PASSWORD ${literal(APP_PASSWORD)}`);
  await run(ledgerTableDdl());
  await run(`GRANT SELECT, INSERT ON public.ledger_probe TO ${ident(APP_ROLE)}`);
}

beforeAll(async () => {
  pair = await freshPair(DB);
  await createAppRole(pair.src);
  await createAppRole(pair.tgt);
  await pair.tgt(`ALTER TABLE public.ledger_probe ALTER COLUMN id RESTART WITH ${TARGET_ID_START}`);
  bouncer = await startPgBouncer({
    databases: [
      { name: ENTRY, host: pair.source.host, port: pair.source.port, dbname: DB },
      { name: 'other_app', host: pair.source.host, port: pair.source.port, dbname: 'postgres' },
    ],
    users: [{ user: APP_ROLE, password: APP_PASSWORD }],
  });
});

afterAll(async () => {
  await bouncer?.stop();
  await pair?.drop();
});

describe('PgBouncer switch under 200 writes/s', () => {
  it('pauses, points the entry at the target, resumes: no write fails, none is lost, writes carry on on the target', async () => {
    const appUrl = bouncer.appUrl(ENTRY, APP_ROLE, APP_PASSWORD);
    const workload = startWorkload({ url: appUrl, ratePerSecond: 200, durationMs: 5_000, connections: 8 });
    await new Promise((r) => setTimeout(r, 2_000));
    const before = workload.snapshot();
    expect(before.acknowledged).toBeGreaterThan(300);

    const sw = makeSwitch({ kind: 'pgbouncer', adminUrl: bouncer.adminUrl, iniPath: bouncer.iniPath, dbEntry: ENTRY });
    const t0 = performance.now();
    await sw.freeze!();
    const tPaused = performance.now();
    await sw.pointAt(pair.target);
    await sw.unfreeze!();
    const t1 = performance.now();
    const resumedAt = Date.now();
    const pauseMs = tPaused - t0;
    const switchMs = t1 - tPaused;

    await workload.finished;
    const result = await workload.stop();
    const worst = worstLatency(result.latencies);
    console.log(
      `[switch-pgbouncer] PAUSE ${pauseMs.toFixed(1)} ms, rewrite+RELOAD+RESUME ${switchMs.toFixed(1)} ms, freeze ${(t1 - t0).toFixed(1)} ms; ` +
        `writes ${result.acknowledged} acknowledged, ${result.failed} failed; slowest write ${worst.ms.toFixed(1)} ms`,
    );

    // Nothing failed: clients waited through the pause.
    expect(result.failuresByCode).toEqual({});
    expect(result.failed).toBe(0);
    expect(result.acknowledged).toBe(result.issued);
    expect(result.acknowledged).toBeGreaterThan(100);
    // How long the freeze lasts is for bench:freeze; a timed bound here would fail at random on 2 shared cores.
    expect(t1).toBeGreaterThanOrEqual(t0);

    // PgBouncer runs with the new target.
    const state = await showDatabase(bouncer.adminUrl, ENTRY);
    expect(state).toMatchObject({ host: pair.target.host, port: pair.target.port, database: DB, paused: false });
    expect(await sw.current!()).toEqual({ host: pair.target.host, port: pair.target.port, database: DB });

    // Every acknowledged write is on exactly one server; the ones after the resume are on the target.
    const onSource = result.ledger.filter((e) => Number(e.id) < TARGET_ID_START);
    const onTarget = result.ledger.filter((e) => Number(e.id) >= TARGET_ID_START);
    expect(onSource.length).toBeGreaterThan(300);
    expect(onTarget.length).toBeGreaterThan(300);
    expect(result.ledger.filter((e) => e.ackedAt! > resumedAt + 50).every((e) => Number(e.id) >= TARGET_ID_START)).toBe(true);
    expect((await withUrl(pair.sourceUrl, (c) => checkLedger(c, onSource))).missing).toEqual([]);
    expect((await withUrl(pair.targetUrl, (c) => checkLedger(c, onTarget))).missing).toEqual([]);
    // And the check can fail: the target lacks the source's writes.
    expect((await withUrl(pair.targetUrl, (c) => checkLedger(c, onSource))).missing).toHaveLength(onSource.length);
    const counts = await Promise.all([
      pair.src('SELECT count(*)::int AS n FROM public.ledger_probe'),
      pair.tgt('SELECT count(*)::int AS n FROM public.ledger_probe'),
    ]);
    expect(counts[0].rows[0].n + counts[1].rows[0].n).toBe(result.acknowledged);

    // Switch back (what a rollback does), so later tests start from the source again.
    await sw.freeze!();
    await sw.pointAt(pair.source);
    await sw.unfreeze!();
    expect(readDatabaseTarget(bouncer.iniPath, ENTRY)).toEqual({ host: pair.source.host, port: pair.source.port, dbname: DB });
  });

  it('a longer freeze: writes wait in PgBouncer and all go through afterwards; the workload sees the freeze as latency', async () => {
    const workload = startWorkload({
      url: bouncer.appUrl(ENTRY, APP_ROLE, APP_PASSWORD),
      ratePerSecond: 200,
      durationMs: 2_500,
      tag: 'hold',
    });
    await new Promise((r) => setTimeout(r, 800));
    await pauseDatabase(bouncer.adminUrl, ENTRY);
    const pausedAt = Date.now();
    const during = workload.snapshot();
    await new Promise((r) => setTimeout(r, 600));
    // Nothing completed while paused: the clients are waiting, not failing.
    expect(workload.snapshot()).toMatchObject({ acknowledged: during.acknowledged, failed: 0 });
    await resumeDatabase(bouncer.adminUrl, ENTRY);
    const held = Date.now() - pausedAt;
    await workload.finished;
    const result = await workload.stop();
    expect(result.failed).toBe(0);
    expect(result.acknowledged).toBe(result.issued);
    // Writes due right at the pause waited for (almost) all of it.
    expect(worstLatency(result.latencies).ms).toBeGreaterThan(held - 50);
    expect((await withUrl(pair.sourceUrl, (c) => checkLedger(c, result.ledger))).missing).toEqual([]);
  });

  it('sequence collisions on a target whose identity was not moved show up as unique violations (23505)', async () => {
    const table = { schema: 'public', name: 'Ledger "collide"' };
    for (const run of [pair.src, pair.tgt]) {
      await run(ledgerTableDdl(table));
      await run(`GRANT SELECT, INSERT ON ${quoteRelation(table)} TO ${ident(APP_ROLE)}`);
    }
    const appUrl = bouncer.appUrl(ENTRY, APP_ROLE, APP_PASSWORD);
    const first = await runToEnd(startWorkload({ url: appUrl, ratePerSecond: 200, maxWrites: 40, table, tag: 'c1' }));
    expect(first.failed).toBe(0);
    // Copy the rows as replication would; the target's identity sequence stays at 1.
    const rows = (await pair.src(`SELECT id, payload FROM ${quoteRelation(table)}`)).rows;
    await pair.tgt(`INSERT INTO ${quoteRelation(table)} (id, payload) SELECT * FROM unnest($1::bigint[], $2::text[])`, [
      rows.map((r) => r.id),
      rows.map((r) => r.payload),
    ]);
    await pointDatabaseAt(bouncer.adminUrl, bouncer.iniPath, ENTRY, { host: pair.target.host, port: pair.target.port, dbname: DB });
    try {
      const second = await runToEnd(startWorkload({ url: appUrl, ratePerSecond: 200, maxWrites: 60, table, tag: 'c2' }));
      expect(second.failuresByCode).toEqual({ '23505': 40 });
      expect(second.acknowledged).toBe(20);
      expect(second.failureSamples[0]).toMatch(/^23505: duplicate key value violates unique constraint/);
    } finally {
      await pointDatabaseAt(bouncer.adminUrl, bouncer.iniPath, ENTRY, { host: pair.source.host, port: pair.source.port, dbname: DB });
    }
  });

  it('rewrites only host, port and dbname of the entry; the rest of the ini stays byte for byte, mode and owner too', async () => {
    const original = readFileSync(bouncer.iniPath, 'utf8');
    const stBefore = statSync(bouncer.iniPath);
    await pointDatabaseAt(bouncer.adminUrl, bouncer.iniPath, ENTRY, { host: 'localhost', port: pair.target.port, dbname: DB });
    const after = readFileSync(bouncer.iniPath, 'utf8');
    const stAfter = statSync(bouncer.iniPath);
    const a = original.split('\n');
    const b = after.split('\n');
    expect(b.length).toBe(a.length);
    const changed = a.flatMap((line, i) => (line === b[i] ? [] : [[line, b[i]]]));
    expect(changed).toEqual([
      [
        `${ENTRY} = host=${pair.source.host} port=${pair.source.port} dbname=${DB}`,
        `${ENTRY} = host=localhost port=${pair.target.port} dbname=${DB}`,
      ],
    ]);
    expect(stAfter.ino).not.toBe(stBefore.ino); // replaced by rename, not rewritten in place
    expect([stAfter.mode, stAfter.uid, stAfter.gid]).toEqual([stBefore.mode, stBefore.uid, stBefore.gid]);
    expect((await showDatabase(bouncer.adminUrl, ENTRY))?.host).toBe('localhost');
    await pointDatabaseAt(bouncer.adminUrl, bouncer.iniPath, ENTRY, { host: pair.source.host, port: pair.source.port, dbname: DB });
    expect(readFileSync(bouncer.iniPath, 'utf8')).toBe(original);
  });

  it('a symlinked ini stays a symlink; the file it points at is rewritten', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgshift-ini-link-'));
    try {
      const real = join(dir, 'pgbouncer.real.ini');
      writeFileSync(real, '[databases]\ntasteam = host=old port=5432 dbname=tasteam\n');
      symlinkSync(real, join(dir, 'pgbouncer.ini'));
      await pointDatabaseAt(bouncer.adminUrl, join(dir, 'pgbouncer.ini'), 'tasteam', { host: 'new', port: 6543, dbname: 'tasteam' });
      expect(lstatSync(join(dir, 'pgbouncer.ini')).isSymbolicLink()).toBe(true);
      expect(readFileSync(real, 'utf8')).toBe('[databases]\ntasteam = host=new port=6543 dbname=tasteam\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("keeps the entry's other settings, quoting, comments and CRLF line endings; adds keys the entry lacked", () => {
    const ini = [
      '; production pgbouncer',
      '[databases]',
      '# the app',
      "tasteam = host=10.0.0.5 port=5432 dbname=tasteam pool_size=40 connect_query='SET search_path = app, public' application_name=api",
      '"other db" = host=10.0.0.6 dbname=other',
      'bare =',
      '',
      '[pgbouncer]',
      'pool_mode = transaction',
      'tasteam = not a database entry',
      '',
    ].join('\r\n');
    const out = rewriteEntry(ini, 'pgbouncer.ini', 'tasteam', { host: 'db.abc.rds.amazonaws.com', port: 5433, dbname: 'tasteam prod' });
    expect(out).toBe(
      ini.replace(
        'tasteam = host=10.0.0.5 port=5432 dbname=tasteam pool_size=40',
        "tasteam = host=db.abc.rds.amazonaws.com port=5433 dbname='tasteam prod' pool_size=40",
      ),
    );
    const quotedKey = rewriteEntry(ini, 'pgbouncer.ini', 'other db', { host: 'h2', port: 6000, dbname: 'o' });
    expect(quotedKey.split('\r\n')[4]).toBe('"other db" = host=h2 dbname=o port=6000');
    const bare = rewriteEntry(ini, 'pgbouncer.ini', 'bare', { host: 'h3', port: 5432, dbname: 'b' });
    expect(bare.split('\r\n')[5]).toBe('bare = host=h3 port=5432 dbname=b');
    expect(bare.split('\r\n').filter((_, i) => i !== 5)).toEqual(ini.split('\r\n').filter((_, i) => i !== 5));
  });
});

describe('PgBouncer switch errors: one line, what to do next, no password', () => {
  const expectOneLine = (err: unknown, pattern: RegExp) => {
    expect(err).toBeInstanceOf(PgshiftError);
    const line = (err as PgshiftError).oneLine();
    expect(line).toMatch(pattern);
    expect(line).not.toContain('\n');
    expect(line).not.toContain(APP_PASSWORD);
    expect(line).not.toContain(new URL(bouncer.adminUrl).password);
    expect((err as PgshiftError).hint).toBeTruthy();
    return err as PgshiftError;
  };
  const failure = async (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => e,
    );

  it('admin console unreachable', async () => {
    const url = new URL(bouncer.adminUrl);
    url.port = String(await freePort());
    const err = expectOneLine(
      await failure(pauseDatabase(url.toString(), ENTRY)),
      /cannot reach the PgBouncer admin console at 127\.0\.0\.1:\d+\/pgbouncer \(ECONNREFUSED\)/,
    );
    expect(err.exitCode).toBe(2);
  });

  it('admin password wrong', async () => {
    const url = new URL(bouncer.adminUrl);
    url.password = 'not-the-password';
    expectOneLine(await failure(resumeDatabase(url.toString(), ENTRY)), /PgBouncer at 127\.0\.0\.1:\d+\/pgbouncer refused admin user/);
  });

  it('unknown database on PAUSE', async () => {
    expectOneLine(
      await failure(pauseDatabase(bouncer.adminUrl, 'no_such_app')),
      /PgBouncer has no database no_such_app \(PAUSE\).*--pgbouncer-db/,
    );
  });

  it('missing ini, no [databases] section, entry not found — and the running PgBouncer is left alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgshift-ini-'));
    try {
      const target = { host: pair.target.host, port: pair.target.port, dbname: DB };
      expectOneLine(
        await failure(pointDatabaseAt(bouncer.adminUrl, join(dir, 'missing.ini'), ENTRY, target)),
        /cannot read the PgBouncer ini .*missing\.ini \(ENOENT\)/,
      );
      const noSection = join(dir, 'nosection.ini');
      writeFileSync(noSection, '[pgbouncer]\nlisten_port = 6432\n');
      expectOneLine(await failure(pointDatabaseAt(bouncer.adminUrl, noSection, ENTRY, target)), /has no \[databases\] section/);
      const noEntry = join(dir, 'noentry.ini');
      writeFileSync(noEntry, '[databases]\nsomething_else = host=x\n[pgbouncer]\n');
      chmodSync(noEntry, 0o600);
      const err = expectOneLine(
        await failure(pointDatabaseAt(bouncer.adminUrl, noEntry, ENTRY, target)),
        /has no \[databases\] entry tasteam/,
      );
      expect(err.exitCode).toBe(2);
      expect(readFileSync(noEntry, 'utf8')).toBe('[databases]\nsomething_else = host=x\n[pgbouncer]\n');
      expect((await showDatabase(bouncer.adminUrl, ENTRY))?.port).toBe(pair.source.port);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('PAUSE bounded in time: a transaction that never ends makes PAUSE fail and the database is resumed', async () => {
    const appUrl = bouncer.appUrl(ENTRY, APP_ROLE, APP_PASSWORD);
    const holder = new pg.Client(appUrl);
    holder.on('error', () => undefined);
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT 1');
    try {
      const err = expectOneLine(
        await failure(pauseDatabase(bouncer.adminUrl, ENTRY, { timeoutMs: 300 })),
        /PAUSE tasteam did not complete within 300 ms .*resumed/,
      );
      expect(err.exitCode).toBe(1);
      expect((await showDatabase(bouncer.adminUrl, ENTRY))?.paused).toBe(false);
      // Other application sessions are not held.
      const other = new pg.Client(appUrl);
      other.on('error', () => undefined);
      await other.connect();
      expect((await other.query('SELECT count(*) >= 0 AS ok FROM public.ledger_probe')).rows[0].ok).toBe(true);
      await other.end();
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
  });
});
