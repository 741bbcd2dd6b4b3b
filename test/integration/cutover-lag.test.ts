/**
 * The cutover's lag pre-check, on real servers: a backlog the target cannot apply (its table locked
 * by another session, as a long report query or a stuck apply would) is refused before anything is
 * frozen, with the lag in bytes and the fix; the application keeps writing on the source; and once the
 * backlog drains the same cutover goes through. No timing margins: the lock, not a sleep, holds the
 * backlog back.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCdc } from '../../src/engine/cdc/start.js';
import { runCutover } from '../../src/engine/cutover/cutover.js';
import type { SwitchoverOptions } from '../../src/engine/cutover/switchover.js';
import { thawDatabaseWrites } from '../../src/engine/cutover/write-freeze.js';
import { runFullLoad } from '../../src/engine/full-load/full-load.js';
import { migrationNames } from '../../src/engine/names.js';
import type { Logger } from '../../src/log/logger.js';
import { withClient } from '../../src/postgres/connect.js';
import { catchUpWaiter, currentWalLsn } from '../../src/postgres/lsn.js';
import { makeSwitch } from '../../src/switch/switch.js';
import { freshPair, type TestPair } from '../support/databases.js';

const names = migrationNames('lag_test');
const log: Logger = { info: () => undefined, warn: () => undefined, progress: () => undefined };
let pair: TestPair;

function options(overrides: Partial<SwitchoverOptions> = {}): SwitchoverOptions {
  return {
    source: pair.source,
    target: pair.target,
    names,
    switch: makeSwitch({ kind: 'none' }),
    appPath: pair.target,
    stateDir: mkdtempSync(join(tmpdir(), 'pgshift-state-')),
    maxFreezeMs: 10_000,
    log,
    ...overrides,
  };
}

beforeAll(async () => {
  pair = await freshPair('pgshift_cutover_lag');
  await pair.src('CREATE TABLE orders (id bigserial PRIMARY KEY, note text NOT NULL)');
  await pair.src("INSERT INTO orders (note) SELECT 'before ' || g FROM generate_series(1, 100) g");
  await runFullLoad({ source: pair.source, target: pair.target, names, jobs: 1, log });
  await startCdc({ source: pair.source, target: pair.target, names, log });
}, 120_000);

afterAll(async () => {
  // The cutover left the source frozen, as a real one does; the markers on it say what to thaw.
  if (pair) await withClient(pair.source, (c) => thawDatabaseWrites(c, names.name)).catch(() => undefined);
  await pair?.drop();
});

describe('the lag pre-check', () => {
  it('refuses a link that does not apply, though it reports almost no lag, before freezing anything', async () => {
    const locker = new pg.Client(pair.targetUrl);
    await locker.connect();
    const steps: string[] = [];
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE orders IN SHARE MODE');
      // One row: a few hundred bytes behind, far under --max-lag, but its apply waits for the lock.
      await pair.src("INSERT INTO orders (note) VALUES ('held back by the lock')");
      const refused = await runCutover(
        options({ maxFreezeMs: 2_000, log: { ...log, info: (line: string) => void steps.push(line) } }),
      ).then(
        () => undefined,
        (err: Error) => err,
      );
      expect(refused?.message).toMatch(/did not apply a marker committed on the .* within --max-freeze 2000 ms/);
      expect(refused?.message).toMatch(/nothing was frozen/);
      // The freeze never started (the run did not get past its pre-checks), and the application still writes.
      expect(steps).toContain('▶ pre-checks');
      expect(steps).not.toContain('▶ freeze writes');
      const write = await pair.src("INSERT INTO orders (note) VALUES ('written after the refusal') RETURNING id");
      expect(write.rowCount).toBe(1);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
    }
    // The lock gone, the same link applies what it held back (waited for: a link that never did fails by the
    // test's timeout); the next test's cutover goes through on it.
    for (;;) {
      const held = await pair.tgt("SELECT count(*)::int AS n FROM orders WHERE note = 'held back by the lock'");
      if (held.rows[0].n === 1) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 180_000);

  it('refuses a backlog over --max-lag before freezing anything, and the cutover goes through once it drains', async () => {
    const locker = new pg.Client(pair.targetUrl);
    await locker.connect();
    try {
      await locker.query('BEGIN');
      // SHARE blocks the apply worker's INSERTs but not the pre-check's reads.
      await locker.query('LOCK TABLE orders IN SHARE MODE');
      // About 2 MB of changes the target cannot apply while the lock is held, in small transactions: one big
      // one would be streamed to the target before its commit, and what the subscriber has received is not lag.
      for (let i = 0; i < 100; i++) await pair.src("INSERT INTO orders (note) SELECT repeat('x', 200) FROM generate_series(1, 100)");

      const refused = await runCutover(options({ maxLagBytes: 256 * 1024 })).then(
        () => undefined,
        (err: Error) => err,
      );
      expect(refused?.message).toMatch(/replication lag is \d+ bytes, over --max-lag 262144/);
      expect(refused?.message).not.toMatch(/postgres:\/\//);
      // Nothing was frozen: the application still writes on the source.
      const write = await pair.src("INSERT INTO orders (note) VALUES ('after the refusal') RETURNING id");
      expect(write.rowCount).toBe(1);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
    }

    const head = await withSourceHead();
    expect(await catchUpWaiter(pair.source, names.slot, 60_000)(head)).toBe(true);
    const r = await runCutover(options({ maxLagBytes: 256 * 1024 }));
    expect(r.ok).toBe(true);
    const [src, tgt] = await Promise.all([
      pair.src('SELECT count(*)::int AS n FROM orders'),
      pair.tgt('SELECT count(*)::int AS n FROM orders'),
    ]);
    expect(tgt.rows[0].n).toBe(src.rows[0].n);
    expect(src.rows[0].n).toBe(10_103);
  }, 180_000);
});

const withSourceHead = () => withClient(pair.source, currentWalLsn);
