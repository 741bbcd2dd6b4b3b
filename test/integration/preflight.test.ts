/**
 * preflight on real servers: the Tasteam fixture passes, every hazard is flagged with the
 * right id and status, the remediation it prints actually fixes the problem, and no secret
 * ends up in the report.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { migrationNames } from '../../src/engine/names.js';
import { runPreflight, type PreflightCheck, type PreflightOptions, type PreflightReport } from '../../src/engine/preflight/preflight.js';
import { PgshiftError } from '../../src/errors.js';
import { parseConnInfo } from '../../src/postgres/conninfo.js';
import { loadFixture, loadHazards } from '../../src/rehearse/fixture/load.js';
import { freePort, startLocalServer } from '../../src/rehearse/local-server.js';
import { silentLogger } from '../../src/log/logger.js';
import { admin, freshPair, serverUrl, type TestPair } from '../support/databases.js';
import { withUrl } from '../../src/postgres/connect.js';

const names = migrationNames('pfcheck');
const secrets = () => [inject('source').password, inject('target').password];

function options(pair: TestPair, extra: Partial<PreflightOptions> = {}): PreflightOptions {
  return { source: pair.source, target: pair.target, names, log: silentLogger, ...extra };
}

function byId(report: PreflightReport, id: string): PreflightCheck {
  const c = report.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id} in the report`);
  return c;
}

function expectNoSecret(report: PreflightReport, extra: string[] = []): void {
  const json = JSON.stringify(report);
  for (const s of [...secrets(), ...extra]) expect(json).not.toContain(s);
}

async function expectProbeGone(pair: TestPair): Promise<void> {
  expect((await pair.src('SELECT pubname FROM pg_publication')).rows).toEqual([]);
  // pg_subscription is shared by the whole cluster: other test files' subscriptions live there too.
  expect(
    (await pair.tgt('SELECT subname FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())'))
      .rows,
  ).toEqual([]);
  expect((await pair.src('SELECT slot_name FROM pg_replication_slots WHERE database = current_database()')).rows).toEqual([]);
}

describe('preflight on the Tasteam fixture', () => {
  let pair: TestPair;
  beforeAll(async () => {
    pair = await freshPair('preflight_fixture');
    await withUrl(pair.sourceUrl, (c) => loadFixture(c));
  });
  afterAll(async () => pair?.drop());

  it('passes with no FAIL, lists every check, proves the path and leaves no probe behind', async () => {
    const report = await runPreflight(options(pair));
    const failed = report.checks.filter((c) => c.status === 'FAIL');
    expect(failed).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.id)).toEqual([
      'source.version',
      'source.wal-level',
      'source.replication-slots',
      'source.wal-senders',
      'source.slot-wal-keep',
      'source.privileges',
      'source.replica-identity',
      'source.replica-identity-full',
      'source.large-objects',
      'source.unlogged-tables',
      'source.materialized-views',
      'source.foreign-tables',
      'source.long-transactions',
      'source.table-sizes',
      'source.event-triggers',
      'source.logical-decoding-work-mem',
      'target.version',
      'target.empty',
      'target.extensions',
      'target.encoding',
      'target.collations',
      'target.subscription-privilege',
      'target.reverse-replication',
      'target.ddl-replay',
      'roles.exist',
      'path.target-to-source',
    ]);
    expect(byId(report, 'path.target-to-source').status).toBe('PASS');
    expect(byId(report, 'source.replica-identity').status).toBe('PASS');
    expect(byId(report, 'target.empty').status).toBe('PASS');
    expect(byId(report, 'target.version').status).toBe('PASS');
    expect(byId(report, 'source.event-triggers').status).toBe('PASS');
    expect(byId(report, 'target.ddl-replay').status).toBe('PASS');
    expect(byId(report, 'source.logical-decoding-work-mem').detail).toMatch(/logical_decoding_work_mem = 64MB/);
    await expectProbeGone(pair);
    expectNoSecret(report);
  });

  it('warns about the keyless REPLICA IDENTITY FULL log and the large objects, and names the materialized view', async () => {
    const report = await runPreflight(options(pair));
    const full = byId(report, 'source.replica-identity-full');
    expect(full.status).toBe('WARN');
    expect(full.objects).toEqual(['analytics.event_log']);
    expect(full.remediation).toMatch(/CREATE INDEX ON "analytics"\."event_log" \("[a-z_]+"\);/);
    const lo = byId(report, 'source.large-objects');
    expect(lo.status).toBe('WARN');
    expect(lo.detail).toContain('3 large object');
    const mv = byId(report, 'source.materialized-views');
    expect(mv.objects).toEqual(['analytics.restaurant_rating']);
    const sizes = byId(report, 'source.table-sizes').data as { tables: { table: string; bytes: number }[] };
    expect(sizes.tables.map((t) => t.table)).toEqual(
      expect.arrayContaining(['public.review', 'public."리뷰 태그"', 'analytics."MixedCase Table"']),
    );
    const roles = byId(report, 'roles.exist').data as { role: string; why: string[] }[];
    expect(roles.find((r) => r.role === 'tasteam_app')?.why).toEqual(expect.arrayContaining(['has table grants', 'has schema grants']));
  });

  it('the helper index it proposes is valid SQL and clears the warning', async () => {
    const before = byId(await runPreflight(options(pair)), 'source.replica-identity-full');
    // Applied on the source here so that preflight (which reads the source) sees it; full-load would carry it over.
    for (const sql of before.remediation!.split('\n').filter((l) => l.startsWith('CREATE INDEX'))) await pair.src(sql);
    try {
      const after = byId(await runPreflight(options(pair)), 'source.replica-identity-full');
      expect(after.status).toBe('PASS');
    } finally {
      const idx = await pair.src(`SELECT indexrelid::regclass::text AS i FROM pg_index WHERE indrelid = 'analytics.event_log'::regclass`);
      for (const { i } of idx.rows) await pair.src(`DROP INDEX ${i}`);
    }
  });

  it('FAILs the path when the target cannot reach the source, with the security-group remediation, and cleans up', async () => {
    const closed = await freePort();
    const report = await runPreflight(options(pair, { sourceFromTarget: { ...pair.source, port: closed } }));
    const path = byId(report, 'path.target-to-source');
    expect(path.status).toBe('FAIL');
    expect(report.ok).toBe(false);
    expect(path.detail).toContain(`127.0.0.1:${closed}/preflight_fixture`);
    expect(path.remediation).toContain(
      `authorize-security-group-ingress --group-id <ec2-sg> --protocol tcp --port ${closed} --source-group <rds-sg>`,
    );
    expect(path.remediation).toContain('pg_hba.conf');
    await expectProbeGone(pair);
    // The failed probe's CONNECTION string (with the password) must not be in the target's log.
    expect(readFileSync(join(dirname(inject('target').dataDir), 'server.log'), 'utf8')).not.toContain(pair.source.password!);
    expectNoSecret(report);
  });

  it('FAILs the path on a wrong password without printing either password', async () => {
    const wrong = 'Wr0ng-Passw0rd-that-must-not-leak';
    const report = await runPreflight(options(pair, { sourceFromTarget: { ...pair.source, password: wrong } }));
    const path = byId(report, 'path.target-to-source');
    expect(path.status).toBe('FAIL');
    expect(path.detail).toMatch(/refused user postgres/);
    await expectProbeGone(pair);
    expectNoSecret(report, [wrong]);
    // The failing CREATE SUBSCRIPTION must not have written its CONNECTION string to the target's log.
    const targetLog = readFileSync(join(dirname(inject('target').dataDir), 'server.log'), 'utf8');
    expect(targetLog).not.toContain(wrong);
  });

  it('FAILs a non-empty target, and only WARNs with clean', async () => {
    await pair.tgt('CREATE TABLE public."Leftover Table" (id int)');
    try {
      const report = await runPreflight(options(pair));
      const empty = byId(report, 'target.empty');
      expect(empty.status).toBe('FAIL');
      expect(empty.objects).toEqual(['table public."Leftover Table"']);
      expect(empty.remediation).toContain('--clean');
      expect(report.ok).toBe(false);
      const cleanReport = await runPreflight(options(pair, { clean: true }));
      const cleanEmpty = byId(cleanReport, 'target.empty');
      expect(cleanEmpty.status).toBe('WARN');
      expect(cleanEmpty.detail).toContain('will be dropped');
      expect(cleanReport.ok).toBe(true);
    } finally {
      await pair.tgt('DROP TABLE public."Leftover Table"');
    }
  });

  it('names a role that holds grants on the source but is missing on the target, with CREATE ROLE', async () => {
    const role = 'Preflight 읽기 "Reader"';
    const q = pg.escapeIdentifier(role);
    await pair.tgt(`DROP ROLE IF EXISTS ${q}`);
    await pair.src(`DROP ROLE IF EXISTS ${q}`);
    await pair.src(`CREATE ROLE ${q} LOGIN`);
    try {
      await pair.src(`GRANT SELECT ON public.review TO ${q}`);
      const report = await runPreflight(options(pair));
      const roles = byId(report, 'roles.exist');
      expect(roles.status).toBe('WARN');
      expect(roles.objects).toContain(role);
      expect(roles.detail).toContain('full-load will create');
      expect(roles.remediation).toContain(`CREATE ROLE ${q} LOGIN;`);
      // The printed SQL runs as is on the target (quoting included), and then the check passes.
      const line = roles.remediation!.split('\n').find((l) => l.startsWith(`CREATE ROLE ${q}`))!;
      await pair.tgt(line.replace(`PASSWORD '<password>'`, `PASSWORD 'x-preflight-test'`));
      // Reported as present, whether other roles are still missing (WARN) or not (PASS, which lists every role).
      const again = byId(await runPreflight(options(pair)), 'roles.exist');
      expect((again.data as { role: string; onTarget: boolean }[]).find((r) => r.role === role)).toMatchObject({ onTarget: true });
      if (again.status === 'WARN') expect(again.remediation).not.toContain(`CREATE ROLE ${q}`);
    } finally {
      await pair.src(`DROP OWNED BY ${q}`);
      await pair.src(`DROP ROLE ${q}`);
      await pair.tgt(`DROP ROLE IF EXISTS ${q}`);
    }
  });

  it('warns about a transaction left open on the source, naming its pid and how to end it', async () => {
    await withUrl(pair.sourceUrl, async (c) => {
      await c.query('BEGIN');
      await c.query('SELECT txid_current()');
      const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
      await new Promise((r) => setTimeout(r, 1500));
      const report = await runPreflight(options(pair, { longTransactionSeconds: 1 }));
      const lt = byId(report, 'source.long-transactions');
      expect(lt.status).toBe('WARN');
      expect(lt.detail).toContain(`pid ${pid}`);
      expect(lt.remediation).toContain(`SELECT pg_terminate_backend(${pid});`);
      await c.query('ROLLBACK');
    });
  });

  it('FAILs a target database created with another encoding, and WARNs another collation; the printed CREATE DATABASE fixes it', async () => {
    const db = 'preflight_latin1';
    const onTarget = (sql: string) => admin('target', 'postgres', (c) => c.query(sql));
    const targetFor = () => parseConnInfo(serverUrl('target', db), 'target');
    await onTarget(`DROP DATABASE IF EXISTS ${db}`);
    await onTarget(`CREATE DATABASE ${db} TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'`);
    try {
      const enc = byId(await runPreflight(options(pair, { target: targetFor() })), 'target.encoding');
      expect(enc.status).toBe('FAIL');
      expect(enc.detail).toContain('source UTF8 / C.UTF-8 / C.UTF-8, target LATIN1 / C / C');
      const create = enc.remediation!.split('\n').find((l) => l.startsWith('CREATE DATABASE'))!;
      expect(create).toBe(`CREATE DATABASE "${db}" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8';`);

      await onTarget(`DROP DATABASE ${db}`);
      await onTarget(`CREATE DATABASE ${db} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`);
      expect(byId(await runPreflight(options(pair, { target: targetFor() })), 'target.encoding').status).toBe('WARN');

      await onTarget(`DROP DATABASE ${db}`);
      await onTarget(create);
      expect(byId(await runPreflight(options(pair, { target: targetFor() })), 'target.encoding').status).toBe('PASS');
    } finally {
      await onTarget(`DROP DATABASE IF EXISTS ${db}`);
    }
  });

  it('refuses source = target as a usage error', async () => {
    const err = await runPreflight(options(pair, { target: { ...pair.source, side: 'target' } })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PgshiftError);
    expect((err as PgshiftError).exitCode).toBe(2);
  });
});

describe('preflight on the hazards', () => {
  let pair: TestPair;
  beforeAll(async () => {
    pair = await freshPair('preflight_hazards');
    await withUrl(pair.sourceUrl, async (c) => {
      await loadFixture(c, { rows: 200 });
      await loadHazards(c);
    });
  });
  afterAll(async () => pair?.drop());

  it('flags each hazard with the right id and status', async () => {
    const report = await runPreflight(options(pair));
    expect(report.ok).toBe(false);
    const ri = byId(report, 'source.replica-identity');
    expect(ri.status).toBe('FAIL');
    expect(ri.objects).toEqual(['public.legacy_import', 'public."쿠폰 발급"']);
    expect(ri.remediation).toContain(
      'ALTER TABLE "public"."legacy_import" ADD PRIMARY KEY (<columns>);  -- or: ALTER TABLE "public"."legacy_import" REPLICA IDENTITY FULL;',
    );
    expect(ri.remediation).toContain('ALTER TABLE "public"."쿠폰 발급" REPLICA IDENTITY DEFAULT;');
    const unlogged = byId(report, 'source.unlogged-tables');
    expect(unlogged.status).toBe('WARN');
    expect(unlogged.objects).toEqual(['public.session_cache']);
    expect(unlogged.remediation).toContain('ALTER TABLE "public"."session_cache" SET LOGGED;');
    const foreign = byId(report, 'source.foreign-tables');
    expect(foreign.status).toBe('WARN');
    expect(foreign.objects).toEqual(['public.pos_order']);
    expect(foreign.detail).toContain('legacy_pos');
    // Everything that is not a hazard stays as on the clean fixture.
    expect(report.checks.filter((c) => c.status === 'FAIL').map((c) => c.id)).toEqual(['source.replica-identity']);
    expectNoSecret(report);
  });

  it('on RDS, an extension left out of rds.allowed_extensions FAILs with the parameter-group fix', async () => {
    // RDS is recognised by its rds.* settings; a database-level placeholder stands in for the parameter group here.
    await pair.tgt(`ALTER DATABASE preflight_hazards SET "rds.extensions" = 'plpgsql,postgres_fdw,pgcrypto'`);
    await pair.tgt(`ALTER DATABASE preflight_hazards SET "rds.allowed_extensions" = 'plpgsql,pgcrypto'`);
    try {
      const report = await runPreflight(options(pair));
      const ext = byId(report, 'target.extensions');
      expect(ext.status).toBe('FAIL');
      expect(ext.objects).toEqual(['postgres_fdw']);
      expect(ext.remediation).toContain('rds.allowed_extensions');
      expect(ext.remediation).toContain('DROP EXTENSION "postgres_fdw";');
    } finally {
      await pair.tgt(`ALTER DATABASE preflight_hazards RESET "rds.extensions"`);
      await pair.tgt(`ALTER DATABASE preflight_hazards RESET "rds.allowed_extensions"`);
    }
  });

  it('the FAIL is real: once published, an UPDATE on the keyless table fails on the source', async () => {
    await pair.src('CREATE PUBLICATION pf_demo FOR TABLE public.legacy_import');
    try {
      await expect(pair.src(`UPDATE public.legacy_import SET payload = '{}' WHERE source_file = 'batch_1.csv'`)).rejects.toThrow(
        /does not have a replica identity/,
      );
    } finally {
      await pair.src('DROP PUBLICATION pf_demo');
    }
  });

  it('the printed fixes clear the FAIL', async () => {
    const ri = byId(await runPreflight(options(pair)), 'source.replica-identity');
    for (const line of ri.remediation!.split('\n')) {
      if (line.endsWith('REPLICA IDENTITY DEFAULT;')) await pair.src(line);
      const full = line.match(/-- or: (ALTER TABLE .* REPLICA IDENTITY FULL;)$/);
      if (full) await pair.src(full[1]);
    }
    const after = await runPreflight(options(pair));
    expect(byId(after, 'source.replica-identity').status).toBe('PASS');
    expect(after.ok).toBe(true);
    // legacy_import is FULL now and has no index: the FULL warning names it next to the fixture's log.
    expect(byId(after, 'source.replica-identity-full').objects).toEqual(['analytics.event_log', 'public.legacy_import']);
  });
});

describe('preflight against a source started with wal_level=replica', () => {
  it('FAILs wal_level with the Docker command line and restart, and the printed ALTER SYSTEM + restart fixes it', async () => {
    const server = await startLocalServer({
      major: 15,
      name: 'pf-replica',
      settings: { wal_level: 'replica', max_replication_slots: 12, max_wal_senders: 12 },
    });
    const pair = await freshPair('preflight_replica');
    try {
      await withUrl(server.url(), (c) => c.query('CREATE DATABASE shop'));
      const source = parseConnInfo(server.url('shop'), 'source');
      const opts = { ...options(pair), source, sourceFromTarget: undefined };
      const report = await runPreflight(opts);
      const wal = byId(report, 'source.wal-level');
      expect(wal.status).toBe('FAIL');
      expect(wal.detail).toContain('wal_level is replica');
      expect(wal.remediation).toContain('command: postgres -c wal_level=logical -c max_replication_slots=12 -c max_wal_senders=12');
      expect(wal.remediation).toContain('docker compose up -d postgres');
      expect(wal.remediation).toContain('docker restart <container>');
      expect(report.ok).toBe(false);
      const keep = byId(report, 'source.slot-wal-keep');
      expect(keep.status).toBe('WARN');
      expectNoSecret(report, [server.password]);

      // What a person would do on a Docker host without compose: run the printed ALTER SYSTEM, restart.
      const alter = wal
        .remediation!.split('\n')
        .find((l) => l.startsWith('Without compose:'))!
        .replace('Without compose: ', '')
        .replace(/ then docker restart <container>$/, '');
      await withUrl(server.url(), async (c) => {
        for (const stmt of alter
          .split(';')
          .map((s) => s.trim())
          .filter(Boolean))
          await c.query(stmt);
        for (const stmt of keep.remediation!.split('\n').filter((l) => /^(ALTER|SELECT)/.test(l))) await c.query(stmt);
      });
      await server.restart();
      const fixed = await runPreflight(opts);
      expect(byId(fixed, 'source.wal-level').status).toBe('PASS');
      expect(byId(fixed, 'source.slot-wal-keep').status).toBe('PASS');
      expect(fixed.ok).toBe(true);
    } finally {
      await pair.drop();
      await server.destroy();
    }
  });
});

describe('preflight as least-privileged users', () => {
  it('names each missing privilege with the GRANT that fixes it, and passes once the printed GRANTs are run', async () => {
    const pair = await freshPair('preflight_roles');
    const srcUser = 'pf_repl_src';
    const tgtUser = 'pf_plain_tgt';
    const pw = `pw-${Math.random().toString(36).slice(2)}-least`;
    const url = (side: 'source' | 'target', user: string) => {
      const s = inject(side);
      return `postgres://${user}:${encodeURIComponent(pw)}@${s.host}:${s.port}/preflight_roles`;
    };
    try {
      await withUrl(pair.sourceUrl, (c) => loadFixture(c, { rows: 100 }));
      await pair.src(`DROP ROLE IF EXISTS ${srcUser}`);
      await pair.tgt(`DROP ROLE IF EXISTS ${tgtUser}`);
      await pair.src(`CREATE ROLE ${srcUser} LOGIN REPLICATION PASSWORD '${pw}'`);
      await pair.tgt(`CREATE ROLE ${tgtUser} LOGIN PASSWORD '${pw}'`);
      const opts = {
        ...options(pair),
        source: parseConnInfo(url('source', srcUser), 'source'),
        target: parseConnInfo(url('target', tgtUser), 'target'),
      };

      const report = await runPreflight(opts);
      expect(report.ok).toBe(false);
      expectNoSecret(report, [pw]);
      // Every check ran: none crashed on a catalog that only superusers may read.
      expect(report.checks.filter((c) => c.detail.startsWith('The check could not run'))).toEqual([]);
      const priv = byId(report, 'source.privileges');
      expect(priv.status).toBe('FAIL');
      expect(priv.objects).toContain('public.member');
      expect(priv.remediation).toContain(`GRANT "postgres" TO "${srcUser}";`);
      const sub = byId(report, 'target.subscription-privilege');
      expect(sub.status).toBe('FAIL');
      expect(sub.remediation).toBe(
        `As a superuser on the target: GRANT pg_create_subscription TO "${tgtUser}"; GRANT CREATE ON DATABASE "preflight_roles" TO "${tgtUser}";`,
      );
      const reverse = byId(report, 'target.reverse-replication');
      expect(reverse.status).toBe('FAIL');
      expect(reverse.remediation).toBe(`ALTER ROLE "${tgtUser}" WITH REPLICATION;`);
      const path = byId(report, 'path.target-to-source');
      expect(path.status).toBe('FAIL');
      expect(path.remediation).toBe(`As a superuser on the source: GRANT CREATE ON DATABASE "preflight_roles" TO "${srcUser}";`);
      await expectProbeGone(pair);

      // Run exactly what was printed, as the superuser of each side.
      const sql = (text: string) =>
        text
          .replace(/^As a superuser on the (source|target): /, '')
          .split('\n')
          .filter((l) => /^(GRANT|ALTER)/.test(l));
      for (const line of [...sql(priv.remediation!), ...sql(path.remediation!)]) await pair.src(line);
      for (const line of [...sql(sub.remediation!), ...sql(reverse.remediation!)]) await pair.tgt(line);

      const fixed = await runPreflight(opts);
      const failed = fixed.checks.filter((c) => c.status === 'FAIL');
      expect(failed).toEqual([]);
      expect(byId(fixed, 'path.target-to-source').detail).toContain(`as ${srcUser}`);
      await expectProbeGone(pair);
    } finally {
      await pair.drop();
      await admin('source', 'postgres', (c) => c.query(`DROP ROLE IF EXISTS ${srcUser}`));
      await admin('target', 'postgres', (c) => c.query(`DROP ROLE IF EXISTS ${tgtUser}`));
    }
  });
});
