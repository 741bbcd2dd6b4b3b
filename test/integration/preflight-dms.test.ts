/**
 * preflight --engine dms on a real source that holds what DMS fails on or silently loses: a table with
 * neither primary key nor REPLICA IDENTITY FULL, enum / inet / range / composite columns, NOT NULL LOB
 * columns, a large object. The native engine's report does not carry these checks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationNames } from '../../src/engine/names.js';
import { addressCovers } from '../../src/engine/preflight/dms-checks.js';
import { runPreflight, type PreflightReport } from '../../src/engine/preflight/preflight.js';
import { silentLogger } from '../../src/log/logger.js';
import { freshPair, type TestPair } from '../support/databases.js';

let pair: TestPair;
let dms: PreflightReport;
let native: PreflightReport;
const byId = (r: PreflightReport, id: string) => r.checks.find((c) => c.id === id)!;

beforeAll(async () => {
  pair = await freshPair('pgshift_preflight_dms');
  await pair.src(`
    CREATE TYPE mood AS ENUM ('ok', 'sad');
    CREATE TYPE point2 AS (x int, y int);
    CREATE TABLE keyed (id int PRIMARY KEY, body text NOT NULL, doc jsonb, mood mood, ip inet);
    CREATE TABLE "no key" (a int, during int4range);
    CREATE TABLE full_identity (a int, p point2);
    ALTER TABLE full_identity REPLICA IDENTITY FULL;
    SELECT lo_from_bytea(0, 'large');
  `);
  const opts = { source: pair.source, target: pair.target, names: migrationNames('pf_dms'), log: silentLogger };
  dms = await runPreflight({ ...opts, engine: 'dms' });
  native = await runPreflight(opts);
}, 120_000);

afterAll(async () => {
  await pair?.drop();
});

describe('preflight --engine dms', () => {
  it('adds the DMS checks only for the dms engine', () => {
    expect(native.checks.some((c) => c.id.startsWith('dms.'))).toBe(false);
    expect(dms.checks.filter((c) => c.id.startsWith('dms.')).map((c) => c.id)).toEqual([
      'dms.wal-level',
      'dms.wal-sender-timeout',
      'dms.max-slot-wal-keep-size',
      'dms.pglogical',
      'dms.primary-keys',
      'dms.lob-columns',
      'dms.column-types',
      'dms.large-objects',
      'dms.pg-hba',
    ]);
    expect(dms.ok).toBe(false);
  });

  it('fails on a table with neither primary key nor REPLICA IDENTITY FULL, with the fix', () => {
    const c = byId(dms, 'dms.primary-keys');
    expect(c.status).toBe('FAIL');
    expect(c.objects).toEqual(['public."no key"']);
    expect(c.remediation).toContain('ALTER TABLE "public"."no key" ADD PRIMARY KEY');
  });

  it('fails on the column types DMS does not migrate, naming each', () => {
    const c = byId(dms, 'dms.column-types');
    expect(c.status).toBe('FAIL');
    expect(c.objects).toEqual([
      'public.full_identity.p (composite point2)',
      'public.keyed.ip (network address inet)',
      'public.keyed.mood (enum mood)',
      'public."no key".during (range int4range)',
    ]);
  });

  it('warns on NOT NULL LOB columns and on large objects', () => {
    expect(byId(dms, 'dms.lob-columns')).toMatchObject({ status: 'WARN', objects: ['public.keyed.body (text)'] });
    expect(byId(dms, 'dms.large-objects')).toMatchObject({ status: 'WARN' });
    expect(byId(dms, 'dms.large-objects').detail).toMatch(/^1 large object/);
  });

  it('passes what this source has right, and asks for the DMS subnets to check pg_hba', () => {
    for (const id of ['dms.wal-level', 'dms.wal-sender-timeout', 'dms.pglogical']) expect(byId(dms, id).status).toBe('PASS');
    expect(byId(dms, 'dms.pg-hba')).toMatchObject({ status: 'WARN' });
  });
});

describe('pg_hba address matching', () => {
  it('a rule covers a subnet when its network contains it', () => {
    expect(addressCovers('10.1.0.0', '255.255.0.0', '10.1.10.0/24')).toBe(true);
    expect(addressCovers('10.1.10.0', '255.255.255.0', '10.1.10.0/24')).toBe(true);
    expect(addressCovers('10.1.10.0', '255.255.255.0', '10.1.11.0/24')).toBe(false);
    expect(addressCovers('10.1.10.0', '255.255.255.128', '10.1.10.0/24')).toBe(false);
    expect(addressCovers('0.0.0.0', '0.0.0.0', '10.1.10.0/24')).toBe(true);
    expect(addressCovers('all', null, '10.1.10.0/24')).toBe(true);
    expect(addressCovers('samenet', null, '10.1.10.0/24')).toBe(false);
    expect(addressCovers(null, null, '10.1.10.0/24')).toBe(false);
  });
});
