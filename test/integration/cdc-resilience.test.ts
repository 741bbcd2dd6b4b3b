/**
 * CDC survives what production does to it: the walsender's connection cut, the source restarted,
 * the source crashed — all while the application keeps writing. Replication resumes by itself and
 * every acknowledged write reaches the target exactly once.
 *
 * The shared test source is used by other test files at the same time, so this file runs its own
 * PostgreSQL 15 source and restarts only that one.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cdcStatus, startCdc, stopCdc, watchCdc, type CdcSample } from '../../src/engine/cdc/index.js';
import { runFullLoad } from '../../src/engine/full-load/full-load.js';
import { migrationNames } from '../../src/engine/names.js';
import { connect } from '../../src/postgres/connect.js';
import { parseConnInfo, type ConnInfo } from '../../src/postgres/conninfo.js';
import { currentWalLsn, waitForApplied } from '../../src/postgres/lsn.js';
import { startLocalServer, type LocalServer } from '../../src/rehearse/local-server.js';
import { silentLogger } from '../../src/log/logger.js';
import { freshPair, type TestPair } from '../support/databases.js';
import { fingerprints, sleep } from './cdc-support.js';

const DB = 'pgshift_cdc_resilience';
const names = migrationNames('cdc_resilience');
const SCHEMA = `
  CREATE TABLE orders (id bigint PRIMARY KEY, note text NOT NULL, body text);
  CREATE TABLE audit (at timestamptz NOT NULL, what text NOT NULL);
  ALTER TABLE audit REPLICA IDENTITY FULL;`;

let server: LocalServer;
let pair: TestPair;
let source: ConnInfo;

/**
 * An application that keeps writing through outages: each write is its own transaction; a failed
 * one is retried on a new connection. Only ids whose COMMIT was acknowledged are recorded.
 */
function startApplication(url: string) {
  let stop = false;
  const acknowledged: number[] = [];
  let failures = 0;
  let lastError = '';
  const done = (async () => {
    let next = 1;
    let client: pg.Client | undefined;
    while (!stop) {
      try {
        if (!client) {
          client = new pg.Client(url);
          client.on('error', () => undefined);
          await client.connect();
        }
        const id = next;
        await client.query(
          `INSERT INTO orders VALUES ($1::bigint, 'order ' || $1::bigint, CASE WHEN $1::bigint % 10 = 0 THEN repeat('큰 값 ', 1000) END)`,
          [id],
        );
        acknowledged.push(id);
        next++;
        if (id % 7 === 0) await client.query(`UPDATE orders SET note = note || ' (changed)' WHERE id = $1::bigint`, [id - 3]);
        if (id % 5 === 0) await client.query(`INSERT INTO audit VALUES (now(), 'order ' || $1::bigint)`, [id]);
        if (id % 25 === 0) await client.query(`DELETE FROM audit WHERE what = 'order ' || $1::bigint`, [id - 20]);
        await sleep(3);
      } catch (err) {
        failures++;
        lastError = String(err);
        await client?.end().catch(() => undefined);
        client = undefined;
        // An INSERT whose acknowledgement was lost may have committed: move on to a fresh id.
        next++;
        await sleep(100);
      }
    }
    await client?.end().catch(() => undefined);
  })();
  return {
    acknowledged,
    /** Resolve once `n` more writes have been acknowledged: progress observed, not slept for. */
    writes: (n: number) => {
      const goal = acknowledged.length + n;
      return until(() => acknowledged.length >= goal, `${n} more acknowledged writes`);
    },
    failures: () => failures,
    lastError: () => lastError,
    stop: async () => {
      stop = true;
      await done;
    },
  };
}

/** Poll a condition every 20 ms; fail after a minute rather than hang. */
async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not seen within ${timeoutMs / 1000} s: ${what}`);
    await sleep(20);
  }
}

async function slotPid(): Promise<number | null> {
  const c = await connect(source);
  try {
    return (await c.query(`SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1`, [names.slot])).rows[0]?.active_pid ?? null;
  } finally {
    await c.end();
  }
}

async function waitForStreamingAgain(previousPid: number | null, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const pid = await slotPid().catch(() => null);
    if (pid && pid !== previousPid) return pid;
    await sleep(100);
  }
  throw new Error('replication did not resume');
}

async function caughtUp(): Promise<boolean> {
  const c = await connect(source);
  try {
    return (await waitForApplied({ source, slotName: names.slot, lsn: await currentWalLsn(c), timeoutMs: 20_000, client: c })).reached;
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  // synchronous_commit = on: an acknowledged commit survives the crash below, as in production.
  server = await startLocalServer({ major: 15, name: 'cdc-resilience', settings: { synchronous_commit: 'on' } });
  const admin = new pg.Client(server.url());
  await admin.connect();
  await admin.query(`CREATE DATABASE ${DB}`);
  await admin.end();
  source = parseConnInfo(server.url(DB), 'source');
  pair = await freshPair(DB);
  const s = await connect(source);
  await s.query(SCHEMA);
  await s.query(`INSERT INTO orders SELECT -i, 'before full-load' FROM generate_series(1, 500) i`);
  await s.end();
  await runFullLoad({ source, target: pair.target, names, jobs: 2, log: silentLogger });
  await startCdc({ source, target: pair.target, names, log: silentLogger });
});

afterAll(async () => {
  await pair?.drop();
  await server?.destroy();
});

describe('CDC through outages', () => {
  it('resumes after the walsender is cut, the source restarts and the source crashes, losing nothing', async () => {
    const app = startApplication(server.url(DB));
    // cdc status --watch runs through the outages too.
    const watching = new AbortController();
    const samples: CdcSample[] = [];
    const watch = watchCdc({ source, target: pair.target, names }, 300, (s) => samples.push(s), watching.signal);
    // Each step waits for what it needs to have seen — writes acknowledged, the outage noticed — never for a guessed time.
    await app.writes(50);

    // A cut network: the walsender's connection dies under the subscriber.
    const first = await slotPid();
    const c = await connect(source);
    await c.query('SELECT pg_terminate_backend($1)', [first]);
    await c.end();
    const second = await waitForStreamingAgain(first);
    await app.writes(50);

    // A clean restart: down until both the application and the watch have noticed.
    const samplesBeforeRestart = samples.length;
    const failuresBeforeRestart = app.failures();
    await server.stop('fast');
    await until(
      () => app.failures() > failuresBeforeRestart && samples.slice(samplesBeforeRestart).some((x) => x.error),
      'the application and the watch notice the restart',
    );
    await server.start();
    const third = await waitForStreamingAgain(second);
    await app.writes(50);

    // A crash (no shutdown checkpoint), down until the application has noticed.
    const failuresBeforeCrash = app.failures();
    await server.stop('immediate');
    await until(() => app.failures() > failuresBeforeCrash, 'the application notices the crash');
    await server.start();
    await waitForStreamingAgain(third);
    await app.writes(50);
    // The watch reconnects and measures the lag of a heartbeat again.
    const samplesAfterCrash = samples.length;
    await until(() => samples.slice(samplesAfterCrash).some((x) => !x.error && x.lagMs !== null), 'the watch measures lag again');

    await app.stop();
    watching.abort();
    await watch;
    expect(app.failures()).toBeGreaterThan(0); // the application did see the outages
    // The watch reported the outage as critical samples, reconnected, and measured lag again.
    const failed = samples.filter((s) => s.error);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((s) => s.verdict === 'critical' && !s.error!.includes(server.password))).toBe(true);
    const lastFailure = samples.map((x) => Boolean(x.error)).lastIndexOf(true);
    expect(samples.slice(lastFailure + 1).some((x) => !x.error && x.lagMs !== null)).toBe(true);
    expect(app.acknowledged.length, app.lastError()).toBeGreaterThanOrEqual(200);
    expect(await caughtUp()).toBe(true);

    // Every acknowledged order is on the target exactly once, and both sides are equal.
    const onTarget = new Set((await pair.tgt(`SELECT id::int FROM orders WHERE id > 0`)).rows.map((r) => r.id as number));
    expect(app.acknowledged.filter((id) => !onTarget.has(id))).toEqual([]);
    const tables = [
      { schema: 'public', name: 'orders' },
      { schema: 'public', name: 'audit' },
    ];
    const [src, tgt] = await Promise.all([fingerprints(server.url(DB), tables), fingerprints(pair.targetUrl, tables)]);
    expect(tgt).toEqual(src);

    const status = await cdcStatus({ source, target: pair.target, names, probeTimeoutMs: 60_000 });
    expect(status.subscription?.workerRunning).toBe(true);
    expect(status.lagMs).not.toBeNull();
  });

  it('stops cleanly afterwards', async () => {
    const result = await stopCdc({ source, target: pair.target, names, log: silentLogger });
    expect(result).toMatchObject({ droppedSubscription: true, droppedSlots: [names.slot], droppedPublication: true });
  });
});
