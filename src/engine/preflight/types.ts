import type pg from 'pg';
import type { ConnInfo } from '../../postgres/conninfo.js';
import type { Logger } from '../../log/logger.js';
import type { MigrationNames } from '../names.js';

export type CheckStatus = 'PASS' | 'WARN' | 'FAIL';
export type CheckScope = 'source' | 'target' | 'roles' | 'path';

/** One line of the preflight report. `id` is stable: scripts and tests key on it. */
export interface PreflightCheck {
  id: string;
  scope: CheckScope;
  status: CheckStatus;
  title: string;
  /** What was found, in one or a few sentences, naming the objects concerned. */
  detail: string;
  /** Exactly what to run or change (SQL with quoted identifiers, or the Docker/RDS step). */
  remediation?: string;
  /** The objects the check is about (schema.table, role, ...), for JSON consumers. */
  objects?: string[];
  /** Structured figures (e.g. table sizes) for JSON consumers. */
  data?: unknown;
}

export interface PreflightOptions {
  source: ConnInfo;
  target: ConnInfo;
  /** How the target reaches the source (RDS uses the EC2 private IP); default: `source`. */
  sourceFromTarget?: ConnInfo;
  names: MigrationNames;
  /** full-load will be run with --clean: a non-empty target is a warning, not a failure. */
  clean?: boolean;
  log: Logger;
  /** Transactions open longer than this are reported (they hold back the slot's snapshot). Default 60 s. */
  longTransactionSeconds?: number;
  /** The replication engine to check for: `dms` adds the AWS DMS checks (dms-checks.ts). Default native. */
  engine?: 'native' | 'dms';
  /** The DMS replication instance's subnets, for the pg_hba.conf check. */
  dmsSubnetCidrs?: string[];
}

export interface ServerFacts {
  /** server_version_num, e.g. 150012. */
  versionNum: number;
  version: string;
  major: number;
  user: string;
  database: string;
  isSuperuser: boolean;
  /** Amazon RDS (rds.* settings present): remediation differs (parameter groups, rds_* roles). */
  isRds: boolean;
}

/** What every check gets: open sessions to both sides and what is known about them. */
export interface CheckContext {
  opts: PreflightOptions;
  source: pg.Client;
  target: pg.Client;
  sourceFacts: ServerFacts;
  targetFacts: ServerFacts;
}

export interface PreflightReport {
  /** No check failed (warnings allowed): exit 0, else exit 1. */
  ok: boolean;
  counts: { pass: number; warn: number; fail: number };
  source: { server: string; version: string };
  target: { server: string; version: string };
  checks: PreflightCheck[];
  durationMs: number;
}
