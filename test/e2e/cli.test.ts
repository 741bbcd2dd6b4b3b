/**
 * The CLI as a person runs it: `node bin/pgshift.mjs …` in a child process, connections in the
 * environment. Bad input gets exit 2 and one clear line, leaves nothing half-done, and no
 * password or connection string appears anywhere in the output.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFixture } from '../../src/rehearse/fixture/load.js';
import { admin, freshPair, serverUrl, type TestPair } from '../support/databases.js';

const run = promisify(execFile);

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

async function pgshift(args: string[], env: Record<string, string>): Promise<CliRun> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/pgshift.mjs', ...args], {
      env: { ...process.env, ...env },
      timeout: 120_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** One line on stderr, starting with "pgshift:", with no secret in any output. */
function expectOneCleanLine(r: CliRun, secrets: string[], pattern: RegExp): void {
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('pgshift:'));
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  for (const s of secrets) {
    expect(r.stderr).not.toContain(s);
    expect(r.stdout).not.toContain(s);
  }
}

let pair: TestPair;
let env: Record<string, string>;
const source = () => new URL(pair.sourceUrl);

beforeAll(async () => {
  pair = await freshPair('pgshift_cli');
  const c = new pg.Client(pair.sourceUrl);
  await c.connect();
  await loadFixture(c, { rows: 200 });
  await c.end();
  env = {
    PGSHIFT_SOURCE_URL: pair.sourceUrl,
    PGSHIFT_TARGET_URL: pair.targetUrl,
    // Its own state directory: a fixed path is shared with every other run on the machine.
    PGSHIFT_STATE_DIR: mkdtempSync(join(tmpdir(), 'pgshift-cli-test-state-')),
  };
});

afterAll(async () => {
  await pair?.drop();
});

describe('bad input: one clear line, no secret, exit 2 (1 where a check fails)', () => {
  it('unreachable host', async () => {
    const url = `postgres://postgres:Sup3r-Secret@127.0.0.1:9/tasteam`;
    const r = await pgshift(['full-load'], { ...env, PGSHIFT_SOURCE_URL: url });
    expect(r.code).toBe(2);
    expectOneCleanLine(r, ['Sup3r-Secret', url], /cannot reach the source 127\.0\.0\.1:9\/tasteam \(ECONNREFUSED\)/);
  });

  it('wrong password', async () => {
    const u = source();
    u.password = 'Wr0ng-Passw0rd';
    const r = await pgshift(['preflight'], { ...env, PGSHIFT_SOURCE_URL: u.toString() });
    expect(r.code).toBe(2);
    expectOneCleanLine(r, ['Wr0ng-Passw0rd', pair.source.password!], /password authentication failed .*PGSHIFT_SOURCE_URL/);
  });

  it('missing database', async () => {
    const u = source();
    u.pathname = '/no_such_db';
    const r = await pgshift(['verify'], { ...env, PGSHIFT_SOURCE_URL: u.toString() });
    expect(r.code).toBe(2);
    expectOneCleanLine(r, [pair.source.password!], /database no_such_db does not exist/);
  });

  it('source = target', async () => {
    const r = await pgshift(['full-load'], { ...env, PGSHIFT_TARGET_URL: pair.sourceUrl });
    expect(r.code).toBe(2);
    expectOneCleanLine(r, [pair.source.password!], /source and target are the same database/);
  });

  it('a target that is not empty, and nothing is left half-done', async () => {
    await pair.tgt('CREATE TABLE leftover (id int)');
    const r = await pgshift(['full-load'], env);
    await pair.tgt('DROP TABLE leftover');
    expect(r.code).toBe(2);
    expectOneCleanLine(r, [pair.source.password!, pair.target.password!], /is not empty .*--clean/);
    const left = await pair.src(
      `SELECT (SELECT count(*) FROM pg_replication_slots WHERE database = $1)::int + (SELECT count(*) FROM pg_publication)::int AS n`,
      ['pgshift_cli'],
    );
    expect(left.rows[0].n).toBe(0);
  });

  it('a pg_dump older than the source', async () => {
    // The PostgreSQL 17 server as a source: Debian's pg_dump 15 refuses it.
    await admin('target', 'postgres', (c) => c.query('DROP DATABASE IF EXISTS pgshift_cli_src17'));
    await admin('target', 'postgres', (c) => c.query('CREATE DATABASE pgshift_cli_src17'));
    const r = await pgshift(['full-load', '--pg-bin-dir', '/usr/lib/postgresql/15/bin'], {
      ...env,
      PGSHIFT_SOURCE_URL: serverUrl('target', 'pgshift_cli_src17'),
    });
    await admin('target', 'postgres', (c) => c.query('DROP DATABASE pgshift_cli_src17'));
    expect(r.code).toBe(2);
    expectOneCleanLine(r, [pair.target.password!], /pg_dump 15 .* is older than the source \(PostgreSQL 17\)/);
  });

  it('a hostile --name', async () => {
    const r = await pgshift(['cdc', 'status', '--name', 'x"; DROP TABLE member; --'], env);
    expect(r.code).toBe(2);
    expectOneCleanLine(r, [pair.source.password!], /--name .* is not usable/);
  });

  it('a missing slot', async () => {
    // The publication exists (as after a full-load whose slot was dropped by hand), the slot does not.
    await pair.src('CREATE PUBLICATION never_loaded FOR ALL TABLES');
    const r = await pgshift(['cdc', 'start', '--name', 'never_loaded'], env);
    await pair.src('DROP PUBLICATION never_loaded');
    expect(r.code).toBe(2);
    expectOneCleanLine(r, [pair.source.password!, pair.target.password!], /slot never_loaded/);
  });

  it('no connection given at all', async () => {
    const r = await pgshift(['preflight'], { PGSHIFT_SOURCE_URL: '', PGSHIFT_TARGET_URL: '' });
    expect(r.code).toBe(2);
    expectOneCleanLine(r, [], /no source connection .*PGSHIFT_SOURCE_URL/);
  });

  it('a flag value outside its choices, on a subcommand', async () => {
    const r = await pgshift(['recover', '--primary', 'sideways'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/argument 'sideways' is invalid. Allowed choices are source, target/);
  });

  it('cdc start-return with no switchover behind it: exit 1, one line, nothing made', async () => {
    const slots = "SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name LIKE 'no_switch%'";
    const r = await pgshift(['cdc', 'start-return', '--name', 'no_switch'], env);
    expect(r.code).toBe(1);
    expectOneCleanLine(r, [pair.source.password!, pair.target.password!], /no switchover left a slot to start from/);
    expect([(await pair.src(slots)).rows[0].n, (await pair.tgt(slots)).rows[0].n]).toEqual([0, 0]);
    const subs = await pair.src("SELECT count(*)::int AS n FROM pg_subscription WHERE subname LIKE 'no_switch%'");
    expect(subs.rows[0].n).toBe(0);
  });

  it('an unknown command prints help', async () => {
    const r = await pgshift(['migrate-everything'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command/);
    expect(r.stderr).toMatch(/full-load/);
  });
});

describe('a full migration from the terminal, --json on stdout', () => {
  it('full-load, cdc start, verify, cutover (switch none), a mismatch caught by the rollback (exit 1), cleanup', async () => {
    const load = await pgshift(['full-load', '--json', '--jobs', '2'], env);
    expect(load.code, load.stderr).toBe(0);
    const doc = JSON.parse(load.stdout);
    expect(doc.slotName).toBe('pgshift');
    expect(doc.consistentLsn).toMatch(/\//);
    expect(load.stdout + load.stderr).not.toContain(pair.source.password!);

    expect((await pgshift(['cdc', 'start'], env)).code).toBe(0);
    await pair.src(`INSERT INTO public.notice (title, body) VALUES ('점검 안내', '새벽 2시')`).catch(async () => pair.src(`SELECT 1`));
    // No --mode: full (checksums) is what `pgshift verify` means.
    const verify = await pgshift(['verify', '--json'], env);
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, mode: 'full' });

    const cut = await pgshift(['cutover', '--switch', 'none', '--json'], env);
    expect(cut.code, cut.stderr).toBe(0);
    const c = JSON.parse(cut.stdout);
    expect(c.writeFreezeMs).toBeGreaterThan(0);
    expect(c.steps.map((s: { step: string }) => s.step)).toEqual([
      'pre-checks',
      'freeze writes',
      'wait for zero lag',
      'export snapshots',
      'sync sequences',
      'turn replication around',
      'switch the application',
      'move the DDL freeze to the new primary',
      'post-check through the application path',
      'check the switch-point snapshots',
    ]);
    expect(c.snapshotCheck).toMatchObject({ ok: true, mode: 'fast', mismatched: [] });

    // A row deleted on the source behind the reverse replication (the source is frozen and read-only
    // for every role now; a superuser gets past that): the rollback's switch-point check catches it,
    // the run exits 1 and names the table with both counts.
    const behind = new pg.Client(pair.sourceUrl);
    await behind.connect();
    await behind.query('SET session_replication_role = replica');
    await behind.query('SET default_transaction_read_only = off');
    const notices = Number((await behind.query('SELECT count(*)::int AS n FROM public.notice')).rows[0].n);
    await behind.query('DELETE FROM public.notice WHERE id = (SELECT min(id) FROM public.notice)');
    await behind.end();
    const back = await pgshift(['rollback', '--switch', 'none'], env);
    expect(back.code, back.stderr).toBe(1);
    expect(back.stdout).toContain(`switch-point check (after resuming, in snapshots taken inside the freeze): MISMATCH in 1 of`);
    expect(back.stdout).toContain(`public.notice (${notices} rows on the old primary, ${notices - 1} on the new one)`);
    const cleanup = await pgshift(['cleanup', '--json'], env);
    expect(cleanup.code, cleanup.stderr).toBe(0);
    expect(JSON.parse(cleanup.stdout).leftovers).toEqual([]);
  });
});
