/**
 * What a person sees when cdc start or stop cannot do its job: one line that names the problem and
 * the next step, exit code 2, and never the password — in the message or in the target's server log.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startCdc, stopCdc } from '../../src/engine/cdc/index.js';
import { migrationNames } from '../../src/engine/names.js';
import { PgshiftError } from '../../src/errors.js';
import { connect } from '../../src/postgres/connect.js';
import { parseConnInfo, type ConnInfo } from '../../src/postgres/conninfo.js';
import { freePort } from '../../src/rehearse/local-server.js';
import { silentLogger } from '../../src/log/logger.js';
import { freshPair, type TestPair } from '../support/databases.js';

let pair: TestPair;
let closedPort: number;
const password = () => inject('source').password;

/** The same source, at a port where nothing listens. */
function unreachable(info: ConnInfo): ConnInfo {
  return { ...info, port: closedPort };
}

async function failure(p: Promise<unknown>): Promise<PgshiftError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PgshiftError);
  const e = err as PgshiftError;
  expect(e.exitCode).toBe(2);
  expect(e.oneLine()).not.toMatch(/\n/);
  expect(e.oneLine()).not.toContain(password());
  return e;
}

beforeAll(async () => {
  pair = await freshPair('pgshift_cdc_errors');
  closedPort = await freePort();
  await pair.src(`CREATE TABLE items (id int PRIMARY KEY, v text)`);
  await pair.tgt(`CREATE TABLE items (id int PRIMARY KEY, v text)`);
});

afterAll(async () => {
  await pair?.drop();
});

describe('cdc start refuses with one clear line', () => {
  it('when the source cannot be reached', async () => {
    const e = await failure(
      startCdc({ source: unreachable(pair.source), target: pair.target, names: migrationNames('cdc_err'), log: silentLogger }),
    );
    expect(e.kind).toBe('connection');
    expect(e.oneLine()).toMatch(/cannot reach the source 127\.0\.0\.1:\d+\/pgshift_cdc_errors \(ECONNREFUSED\)/);
  });

  it("when full-load's publication is missing", async () => {
    const e = await failure(startCdc({ source: pair.source, target: pair.target, names: migrationNames('cdc_nopub'), log: silentLogger }));
    expect(e.kind).toBe('usage');
    expect(e.oneLine()).toMatch(/^publication cdc_nopub does not exist on the source .* run 'pgshift full-load --name cdc_nopub' first/);
  });

  it('when the slot name does not exist on the source', async () => {
    await pair.src(`CREATE PUBLICATION cdc_noslot FOR ALL TABLES`);
    const e = await failure(startCdc({ source: pair.source, target: pair.target, names: migrationNames('cdc_noslot'), log: silentLogger }));
    expect(e.kind).toBe('usage');
    expect(e.oneLine()).toMatch(/^replication slot cdc_noslot does not exist on the source/);
    // Checked before anything was created on the target.
    expect((await pair.tgt(`SELECT subname FROM pg_subscription WHERE subname = 'cdc_noslot'`)).rows).toEqual([]);
    await pair.src(`DROP PUBLICATION cdc_noslot`);
  });

  it('when the target cannot reach the source, without the password in the message or the target log', async () => {
    const names = migrationNames('cdc_noroute');
    await pair.src(`CREATE PUBLICATION cdc_noroute FOR ALL TABLES`);
    await pair.src(`SELECT pg_create_logical_replication_slot('cdc_noroute', 'pgoutput')`);
    const e = await failure(
      startCdc({ source: pair.source, sourceFromTarget: unreachable(pair.source), target: pair.target, names, log: silentLogger }),
    );
    expect(e.kind).toBe('connection');
    expect(e.oneLine()).toMatch(/cannot reach the source at 127\.0\.0\.1:\d+\/pgshift_cdc_errors.*--source-from-target/);
    const targetLog = readFileSync(join(dirname(inject('target').dataDir), 'server.log'), 'utf8');
    expect(targetLog).not.toContain(password());
    await stopCdc({ source: pair.source, target: pair.target, names, log: silentLogger });
  });

  it('when the subscription already runs on its slot (an earlier start made it): nothing to change, and it says so', async () => {
    const names = migrationNames('cdc_twice');
    await pair.src(`CREATE PUBLICATION cdc_twice FOR ALL TABLES`);
    await pair.src(`SELECT pg_create_logical_replication_slot('cdc_twice', 'pgoutput')`);
    await startCdc({ source: pair.source, target: pair.target, names, log: silentLogger });
    const oid = async () => (await pair.tgt(`SELECT oid::text FROM pg_subscription WHERE subname = 'cdc_twice'`)).rows[0]?.oid;
    const before = await oid();
    const again = await startCdc({ source: pair.source, target: pair.target, names, log: silentLogger });
    expect(again.alreadyRunning).toBe(true);
    expect(await oid()).toBe(before);
    await stopCdc({ source: pair.source, target: pair.target, names, log: silentLogger });
  });

  it('when a subscription of that name exists on another slot, saying how to stop it', async () => {
    const names = migrationNames('cdc_other');
    await pair.src(`CREATE PUBLICATION cdc_other FOR ALL TABLES`);
    await pair.src(`SELECT pg_create_logical_replication_slot('cdc_other', 'pgoutput')`);
    await pair.src(`SELECT pg_create_logical_replication_slot('cdc_other_elsewhere', 'pgoutput')`);
    await startCdc({ source: pair.source, target: pair.target, names: { ...names, slot: 'cdc_other_elsewhere' }, log: silentLogger });
    const e = await failure(startCdc({ source: pair.source, target: pair.target, names, log: silentLogger }));
    expect(e.kind).toBe('usage');
    expect(e.oneLine()).toMatch(/^subscription cdc_other already exists on the target .*'pgshift cdc stop --name cdc_other'/);
    await stopCdc({ source: pair.source, target: pair.target, names: { ...names, slot: 'cdc_other_elsewhere' }, log: silentLogger });
    await pair.src(`SELECT pg_drop_replication_slot('cdc_other')`).catch(() => undefined);
  });
});

describe('cdc stop with the source unreachable', () => {
  it('detaches and drops the subscription, and names the slot left on the source with the SQL that drops it', async () => {
    const names = migrationNames('cdc_cut');
    await pair.src(`CREATE PUBLICATION cdc_cut FOR ALL TABLES`);
    await pair.src(`SELECT pg_create_logical_replication_slot('cdc_cut', 'pgoutput')`);
    await startCdc({ source: pair.source, target: pair.target, names, log: silentLogger });

    const result = await stopCdc({
      source: unreachable(pair.source),
      target: pair.target,
      names,
      log: silentLogger,
      sourceConnectTimeoutMs: 2000,
    });
    expect(result.droppedSubscription).toBe(true);
    expect(result.sourceReachable).toBe(false);
    expect(result.sourceError).toMatch(/ECONNREFUSED/);
    expect(result.sourceError).not.toContain(password());
    expect((await pair.tgt(`SELECT subname FROM pg_subscription WHERE subname = 'cdc_cut'`)).rows).toEqual([]);
    const slot = result.leftovers.find((l) => l.kind === 'slot' && l.name === 'cdc_cut')!;
    const publication = result.leftovers.find((l) => l.kind === 'publication')!;
    expect(slot.sql).toContain(`'cdc_cut'`);

    // The SQL it hands out really removes what is left, once the source is back.
    const s = await connect(pair.source);
    for (let i = 0; i < 50 && (await s.query(`SELECT active FROM pg_replication_slots WHERE slot_name = 'cdc_cut'`)).rows[0]?.active; i++)
      await new Promise((r) => setTimeout(r, 100));
    for (const l of result.leftovers) await s.query(l.sql);
    await s.end();
    expect((await pair.src(`SELECT slot_name FROM pg_replication_slots WHERE slot_name = 'cdc_cut'`)).rows).toEqual([]);
    expect((await pair.src(`SELECT pubname FROM pg_publication WHERE pubname = $1`, [publication.name])).rows).toEqual([]);

    // And a stop with the source back finds nothing left to do.
    const again = await stopCdc({ source: pair.source, target: pair.target, names, log: silentLogger });
    expect(again.nothingToDo).toBe(true);
  });
});

describe('a hostile password in the subscription connection', () => {
  it('is quoted correctly (the subscription streams) and never written to the target log', async () => {
    const hostile = 'it\'s a p\\ss w0rd-"geheim"';
    await pair.src(`DO $$ BEGIN CREATE ROLE cdc_hostile LOGIN REPLICATION; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await pair.src(`ALTER ROLE cdc_hostile PASSWORD ${"'"}${hostile.replace(/'/g, "''")}'`);
    const viaRole = parseConnInfo(
      `postgres://cdc_hostile:${encodeURIComponent(hostile)}@127.0.0.1:${pair.source.port}/${pair.name}`,
      'source',
    );
    const names = migrationNames('cdc_quoted');
    await pair.src(`CREATE PUBLICATION cdc_quoted FOR ALL TABLES`);
    await pair.src(`SELECT pg_create_logical_replication_slot('cdc_quoted', 'pgoutput')`);
    await startCdc({ source: pair.source, sourceFromTarget: viaRole, target: pair.target, names, log: silentLogger });
    await pair.src(`INSERT INTO items VALUES (42, 'through the hostile password')`);
    let row: unknown[] = [];
    for (let i = 0; i < 100 && row.length === 0; i++) {
      row = (await pair.tgt(`SELECT v FROM items WHERE id = 42`)).rows;
      if (row.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(row).toEqual([{ v: 'through the hostile password' }]);
    const targetLog = readFileSync(join(dirname(inject('target').dataDir), 'server.log'), 'utf8');
    expect(targetLog).not.toContain('w0rd-');
    await stopCdc({ source: pair.source, target: pair.target, names, log: silentLogger });
  });
});
