/**
 * `pgshift preflight`: everything that would make the migration fail or lose data, found
 * before anything is created. Read-only on both sides except for the path probe (a
 * publication on the source and a disabled subscription on the target, dropped at once).
 */
import { usageError } from '../../errors.js';
import { withClients } from '../../postgres/connect.js';
import { describe, sameDatabase } from '../../postgres/conninfo.js';
import { redact } from '../../postgres/redact.js';
import { check, readServerFacts } from './common.js';
import { checkTargetReachesSource } from './path-check.js';
import { checkRolesExist } from './role-checks.js';
import {
  checkForeignTables,
  checkLargeObjects,
  checkLongTransactions,
  checkMaterializedViews,
  checkReplicaIdentity,
  checkReplicaIdentityFull,
  checkReplicationSlots,
  checkSlotWalKeepSize,
  checkSourcePrivileges,
  checkSourceVersion,
  checkTableSizes,
  checkUnloggedTables,
  checkWalLevel,
  checkWalSenders,
} from './source-checks.js';
import {
  checkColumnCollations,
  checkEncodingAndCollation,
  checkExtensions,
  checkReverseReplication,
  checkSubscriptionPrivilege,
  checkTargetEmpty,
  checkTargetVersion,
} from './target-checks.js';
import type { CheckContext, CheckScope, PreflightCheck, PreflightOptions, PreflightReport } from './types.js';
import {
  checkDmsColumnTypes,
  checkDmsLargeObjects,
  checkDmsLobColumns,
  checkDmsPgHba,
  checkDmsPglogical,
  checkDmsPrimaryKeys,
  checkDmsSlotWalKeep,
  checkDmsWalLevel,
  checkDmsWalSenderTimeout,
} from './dms-checks.js';

import { checkLogicalDecodingWorkMem, checkSourceEventTriggers, checkTargetDdlReplay } from './ddl-checks.js';

export type { PreflightCheck, PreflightOptions, PreflightReport } from './types.js';

type Check = (ctx: CheckContext) => Promise<PreflightCheck>;

/** Every check, in the order the report lists them. */
export const PREFLIGHT_CHECKS: ReadonlyArray<{ id: string; scope: CheckScope; run: Check }> = [
  // source: can it feed logical replication, and what will not travel through it
  { id: 'source.version', scope: 'source', run: checkSourceVersion },
  { id: 'source.wal-level', scope: 'source', run: checkWalLevel },
  { id: 'source.replication-slots', scope: 'source', run: checkReplicationSlots },
  { id: 'source.wal-senders', scope: 'source', run: checkWalSenders },
  { id: 'source.slot-wal-keep', scope: 'source', run: checkSlotWalKeepSize },
  { id: 'source.privileges', scope: 'source', run: checkSourcePrivileges },
  { id: 'source.replica-identity', scope: 'source', run: checkReplicaIdentity },
  { id: 'source.replica-identity-full', scope: 'source', run: checkReplicaIdentityFull },
  { id: 'source.large-objects', scope: 'source', run: checkLargeObjects },
  { id: 'source.unlogged-tables', scope: 'source', run: checkUnloggedTables },
  { id: 'source.materialized-views', scope: 'source', run: checkMaterializedViews },
  { id: 'source.foreign-tables', scope: 'source', run: checkForeignTables },
  { id: 'source.long-transactions', scope: 'source', run: checkLongTransactions },
  { id: 'source.table-sizes', scope: 'source', run: checkTableSizes },
  { id: 'source.event-triggers', scope: 'source', run: checkSourceEventTriggers },
  { id: 'source.logical-decoding-work-mem', scope: 'source', run: checkLogicalDecodingWorkMem },
  // target: can it take the schema and data, and replicate back for a rollback
  { id: 'target.version', scope: 'target', run: checkTargetVersion },
  { id: 'target.empty', scope: 'target', run: checkTargetEmpty },
  { id: 'target.extensions', scope: 'target', run: checkExtensions },
  { id: 'target.encoding', scope: 'target', run: checkEncodingAndCollation },
  { id: 'target.collations', scope: 'target', run: checkColumnCollations },
  { id: 'target.subscription-privilege', scope: 'target', run: checkSubscriptionPrivilege },
  { id: 'target.reverse-replication', scope: 'target', run: checkReverseReplication },
  { id: 'target.ddl-replay', scope: 'target', run: checkTargetDdlReplay },
  // roles: the application can log in and has its rights the moment it switches
  { id: 'roles.exist', scope: 'roles', run: checkRolesExist },
  // path: RDS → source 5432, proven from the target side
  { id: 'path.target-to-source', scope: 'path', run: checkTargetReachesSource },
];

/** Added with --engine dms (experiment 03): what makes AWS DMS fail or lose data on this source. */
export const DMS_PREFLIGHT_CHECKS: ReadonlyArray<{ id: string; scope: CheckScope; run: Check }> = [
  { id: 'dms.wal-level', scope: 'source', run: checkDmsWalLevel },
  { id: 'dms.wal-sender-timeout', scope: 'source', run: checkDmsWalSenderTimeout },
  { id: 'dms.max-slot-wal-keep-size', scope: 'source', run: checkDmsSlotWalKeep },
  { id: 'dms.pglogical', scope: 'source', run: checkDmsPglogical },
  { id: 'dms.primary-keys', scope: 'source', run: checkDmsPrimaryKeys },
  { id: 'dms.lob-columns', scope: 'source', run: checkDmsLobColumns },
  { id: 'dms.column-types', scope: 'source', run: checkDmsColumnTypes },
  { id: 'dms.large-objects', scope: 'source', run: checkDmsLargeObjects },
  { id: 'dms.pg-hba', scope: 'source', run: checkDmsPgHba },
];

export async function runPreflight(opts: PreflightOptions): Promise<PreflightReport> {
  const started = Date.now();
  refuseSameDatabase(opts);
  return withClients(
    opts.source,
    opts.target,
    async (source, target) => {
      const ctx: CheckContext = {
        opts,
        source,
        target,
        sourceFacts: await readServerFacts(source),
        targetFacts: await readServerFacts(target),
      };
      const checks: PreflightCheck[] = [];
      for (const c of [...PREFLIGHT_CHECKS, ...(opts.engine === 'dms' ? DMS_PREFLIGHT_CHECKS : [])]) {
        const result = await runOne(ctx, c);
        opts.log.progress(`${result.status.padEnd(4)} ${result.id}: ${result.title}`);
        checks.push(result);
      }
      return summarize(opts, ctx, checks, started);
    },
    { applicationName: 'pgshift-preflight' },
  );
}

function refuseSameDatabase(opts: PreflightOptions): void {
  if (sameDatabase(opts.source, opts.target)) {
    throw usageError(
      `the source and the target are the same database (${describe(opts.source)})`,
      'point --target-url at the RDS database',
    );
  }
}

/** A check that cannot run is a failure to look at, not a crash that hides the other checks. */
async function runOne(ctx: CheckContext, c: { id: string; scope: CheckScope; run: Check }): Promise<PreflightCheck> {
  try {
    return await c.run(ctx);
  } catch (err) {
    const message = redact(err instanceof Error ? err.message : String(err));
    return check(c.id, c.scope, 'FAIL', c.id, `The check could not run: ${message}`, {
      remediation: 'Run preflight as a user that can read the catalogs (superuser on the source, the RDS master user on the target).',
    });
  }
}

function summarize(opts: PreflightOptions, ctx: CheckContext, checks: PreflightCheck[], started: number): PreflightReport {
  const counts = {
    pass: checks.filter((c) => c.status === 'PASS').length,
    warn: checks.filter((c) => c.status === 'WARN').length,
    fail: checks.filter((c) => c.status === 'FAIL').length,
  };
  return {
    ok: counts.fail === 0,
    counts,
    source: { server: describe(opts.source), version: ctx.sourceFacts.version },
    target: { server: describe(opts.target), version: ctx.targetFacts.version },
    checks,
    durationMs: Date.now() - started,
  };
}
