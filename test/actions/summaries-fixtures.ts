/**
 * Phase results for test/actions/summaries.test.ts, shaped as the engine returns them. Only the
 * renderers read these; the engine's own tests (real servers) check that results carry these values.
 */
import type { PreCutoverBackups } from '../../src/aws/backups.js';
import type { DmsCdcStatus } from '../../src/engine/cdc/dms.js';
import type { CdcStatus, StopCdcResult } from '../../src/engine/cdc/index.js';
import type { CleanupResult } from '../../src/engine/cleanup/cleanup.js';
import type { CutoverResult } from '../../src/engine/cutover/cutover.js';
import type { SnapshotCheckResult } from '../../src/engine/cutover/snapshot-check.js';
import { STEP } from '../../src/engine/cutover/steps.js';
import type { FullLoadResult } from '../../src/engine/full-load/full-load.js';
import type { PreflightReport } from '../../src/engine/preflight/preflight.js';
import type { RecoverResult } from '../../src/engine/recover/recover.js';
import type { RollbackResult } from '../../src/engine/rollback/rollback.js';
import type { MigrationStatus } from '../../src/engine/status/status.js';
import type { StepRecord } from '../../src/engine/timeline.js';
import type { VerifyReport } from '../../src/engine/verify/report.js';
import type { Watched } from '../../actions/common/summaries/cdc.js';

const T0 = Date.parse('2026-11-30T10:00:00.000Z');

/** Steps one after the other, 100 ms each; [name, ok]. */
export function steps(...s: [string, boolean][]): StepRecord[] {
  return s.map(([step, ok], i) => ({ step, ok, ms: 100, startedAt: new Date(T0 + i * 100).toISOString() }));
}

export function cutoverResult(
  o: { mismatch?: boolean; rolledBack?: boolean; postCheckError?: string; kind?: 'cutover' | 'rollback' } = {},
): CutoverResult {
  const kind = o.kind ?? 'cutover';
  const check: SnapshotCheckResult = {
    mode: 'fast',
    ok: !o.mismatch,
    tables: 12,
    mismatched: o.mismatch
      ? [
          { table: 'public.orders', fromRows: 1000, toRows: 999 },
          { table: 'public.order_lines', fromRows: 4000, toRows: null },
        ]
      : [],
    ms: 310,
  };
  const [from, to] = kind === 'cutover' ? ['source:5432/tasteam', 'rds:5432/tasteam'] : ['rds:5432/tasteam', 'source:5432/tasteam'];
  const postOk = o.postCheckError === undefined;
  const result: CutoverResult = {
    kind,
    ok: !o.mismatch && postOk,
    from,
    to,
    writeFreezeMs: 640,
    lagAtFreezeBytes: 120,
    waitForApplyMs: 35,
    sequencesSet: 4,
    snapshotCheck: check,
    replicationBack: { publication: 'pgshift_reverse_pub', slot: 'pgshift_reverse', subscription: 'pgshift_reverse_sub' },
    frozenOnOldPrimary: {
      database: 'tasteam',
      roles: ['app'],
      database_level: false,
      frozenAt: new Date(T0).toISOString(),
      terminatedSessions: 3,
    } as CutoverResult['frozenOnOldPrimary'],
    postCheck: postOk ? { ok: true, ms: 15 } : { ok: false, error: o.postCheckError, ms: 15 },
    steps: steps(
      [STEP.preChecks, true],
      [STEP.freezeWrites, true],
      [STEP.waitForZeroLag, true],
      [STEP.switchApplication, true],
      [STEP.postCheck, postOk],
      [STEP.checkSwitchPoint, !o.mismatch],
    ),
  };
  if (o.rolledBack) result.mismatchRollback = { mode: 'lossless', ...cutoverResult({ kind: 'rollback' }) };
  return result;
}

export function backups(): PreCutoverBackups {
  return {
    snapshot: { snapshotIdentifier: 'pgshift-pre-cutover-1', status: 'available' },
    image: { imageId: 'ami-0123', state: 'available' },
  } as PreCutoverBackups;
}

export function dataLossRollback(): Extract<RollbackResult, { mode: 'data-loss-accepted' }> {
  return {
    mode: 'data-loss-accepted',
    ok: true,
    lost: [
      { table: 'public.orders', rows: 2, sampleKeys: [{ id: '1001' }, { id: '1002' }] },
      { table: 'public.members', rows: 1, sampleKeys: [{ id: '77' }] },
    ],
    steps: steps(['compare what the target has that the source lacks', true], [STEP.switchApplication, true]),
  } as Extract<RollbackResult, { mode: 'data-loss-accepted' }>;
}

export function verifyReport(o: { differs: boolean }): VerifyReport {
  const members = {
    table: { schema: 'public', name: 'members' },
    verdict: 'equal',
    sourceRows: 100,
    targetRows: 100,
    chunks: 1,
    mismatchedChunks: 0,
    primaryKey: ['id'],
    rechecks: 0,
    notes: [],
  };
  const orders = o.differs
    ? {
        table: { schema: 'public', name: 'orders' },
        verdict: 'did-not-converge',
        sourceRows: 1000,
        targetRows: 999,
        chunks: 4,
        mismatchedChunks: 1,
        primaryKey: ['id'],
        rechecks: 2,
        notes: [],
        differences: {
          missingOnTarget: 1,
          extraOnTarget: 0,
          changed: 0,
          capped: false,
          keys: { missingOnTarget: [{ id: '250' }], extraOnTarget: [], changed: [] },
        },
      }
    : { ...members, table: { schema: 'public', name: 'orders' }, sourceRows: 1000, targetRows: 1000 };
  return {
    ok: !o.differs,
    mode: 'full',
    strict: false,
    durationMs: 2500,
    tables: [members, orders],
    summary: {
      tables: 2,
      equal: o.differs ? 1 : 2,
      differs: 0,
      didNotConverge: o.differs ? 1 : 0,
      missingOnTarget: 0,
      convergedAfterRecheck: 0,
      schemaDifferences: 0,
    },
    sequences: [],
    materializedViews: [],
    schemaDrift: [],
  } as unknown as VerifyReport;
}

export function preflightReport(): PreflightReport {
  return {
    ok: false,
    durationMs: 420,
    source: { server: 'source:5432/tasteam', version: '15.8' },
    target: { server: 'rds:5432/tasteam', version: '17.2' },
    checks: [
      { id: 'target_version', scope: 'target', status: 'PASS', title: 'target version', detail: 'PostgreSQL 17.2' },
      {
        id: 'wal_level',
        scope: 'source',
        status: 'FAIL',
        title: 'wal_level',
        detail: 'wal_level is replica',
        remediation: 'ALTER SYSTEM SET wal_level = logical;\n-- then restart the container',
      },
    ],
  } as unknown as PreflightReport;
}

export function fullLoadResult(): FullLoadResult {
  return {
    slotName: 'pgshift_slot',
    publication: 'pgshift_pub',
    consistentLsn: '0/3000060',
    totals: { tables: 2, rows: 1100, bytes: 1024 ** 2, seconds: 3.2, copySeconds: 2.1, bytesPerSecond: 500_000 },
    pgDump: { major: 17, where: 'pg-bin-dir' },
    roles: { created: ['app'], needPassword: [] },
    sequences: 3,
    largeObjects: 0,
    materializedViews: [],
    droppedByClean: [],
    tables: [
      { schema: 'public', name: 'members', rows: 100, bytes: 100_000, chunks: 1, indexes: 2, foreignKeys: 0, seconds: 0.3 },
      { schema: 'public', name: 'orders', rows: 1000, bytes: 900_000, chunks: 4, indexes: 3, foreignKeys: 1, seconds: 1.5 },
    ],
    steps: steps(['create the slot', true], ['copy', true]),
  } as unknown as FullLoadResult;
}

export function cdcWatched(): { watched: Watched; last: CdcStatus } {
  const sample = (i: number, lagBytes: number): CdcStatus =>
    ({
      at: new Date(T0 + i * 1000).toISOString(),
      lagBytes,
      lagMs: null,
      lagMsAtLeast: 4000 + i * 1000,
      sourceLsn: '0/5000000',
      appliedLsn: '0/4FFEC78',
      verdict: 'critical',
      retained: { bytes: 2 * 1024 ** 2, warnBytes: 2 * 1024 ** 3, maxBytes: 10 * 1024 ** 3, walStatus: 'reserved' },
      subscription: { name: 'pgshift_sub', enabled: false, workerRunning: false, applyErrorCount: 0, syncErrorCount: 0 },
      slot: { slotName: 'pgshift_slot', active: false },
      tables: [],
      fullIdentityWithoutIndex: [],
      findings: [{ level: 'critical', message: 'the subscription is disabled: nothing is applied on the target' }],
    }) as unknown as CdcStatus;
  const samples = [sample(0, 4000), sample(1, 4500), sample(2, 5000)];
  return { watched: { samples, caughtUp: false }, last: samples.at(-1)! };
}

export function stopResult(): StopCdcResult {
  return {
    droppedSubscription: true,
    droppedSlots: [],
    droppedPublication: false,
    sourceReachable: false,
    sourceError: 'timeout',
    nothingToDo: false,
    leftovers: [{ kind: 'slot', name: 'pgshift_slot', sql: "SELECT pg_drop_replication_slot('pgshift_slot')" }],
  } as unknown as StopCdcResult;
}

export function dmsStatus(): DmsCdcStatus {
  return {
    engine: 'dms',
    ok: false,
    task: { arn: 'arn:task', identifier: 'pgshift-forward', status: 'failed', resourceId: 'X', lastFailureMessage: 'endpoint error' },
    tables: [{ schema: 'public', name: 'orders', state: 'Table error', inserts: 10, updates: 2, deletes: 0, validationFailedRecords: 0 }],
    latency: null,
    slot: null,
    lagBytes: null,
  } as unknown as DmsCdcStatus;
}

export function cleanupResult(): CleanupResult {
  return {
    ok: false,
    dropped: [{ side: 'target', kind: 'subscription', name: 'pgshift_sub' }],
    leftovers: [{ side: 'source', kind: 'slot', name: 'pgshift_slot' }],
    steps: steps(['drop subscriptions', true], ['list leftovers', true]),
  };
}

export function migrationStatus(): MigrationStatus {
  return {
    verdict: 'critical',
    primary: 'source',
    primaryBecause: 'the application points at it',
    next: 'pgshift cdc start',
    findings: [{ level: 'critical', message: 'replication source -> target stopped' }],
    servers: {
      source: { side: 'source', where: 'source:5432/tasteam', reachable: true, loginRoles: 2, readOnlyRoles: [], freeze: null },
      target: { side: 'target', where: 'rds:5432/tasteam', reachable: true, loginRoles: 2, readOnlyRoles: [], freeze: null },
    },
    links: [
      {
        direction: 'source -> target',
        subscription: 'pgshift_sub',
        subscriptionExists: true,
        enabled: false,
        streaming: false,
        lagBytes: null,
        applyErrors: 0,
      },
    ],
    slots: [],
    application: null,
  } as unknown as MigrationStatus;
}

export function recoverResult(): RecoverResult {
  return {
    ok: true,
    dryRun: false,
    found: { ...migrationStatus(), verdict: 'warn' },
    primary: 'source',
    decision: 'undo',
    actions: [{ action: 'thaw the source', done: true }],
    postCheck: { ok: true, ms: 12 },
  } as unknown as RecoverResult;
}
