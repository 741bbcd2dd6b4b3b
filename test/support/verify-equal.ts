/**
 * What a person checks after replication has caught up: `pgshift verify --mode full` finds no schema
 * drift, and every table equal (or equal on its recheck, while the last changes were still arriving).
 */
import { expect } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import { catchUpWaiter } from '../../src/postgres/lsn.js';
import { relationKey } from '../../src/postgres/sql.js';
import { runVerify } from '../../src/engine/verify/verify.js';
import type { TestPair } from './databases.js';

export async function expectFullVerifyEqual(pair: TestPair, slot: string): Promise<void> {
  const verify = await runVerify({
    source: pair.source,
    target: pair.target,
    mode: 'full',
    waitForCatchUp: catchUpWaiter(pair.source, slot, 60_000),
    log: silentLogger,
  });
  expect(verify.schemaDrift).toEqual([]);
  expect(
    verify.tables.filter((t) => t.verdict !== 'equal' && t.verdict !== 'converged-after-recheck').map((t) => relationKey(t.table)),
  ).toEqual([]);
  expect(verify.ok).toBe(true);
}
