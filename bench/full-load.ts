/**
 * Benchmark: the plan's full load against `pgcopydb clone` and `pgshift full-load`, on the
 * same generated database, in the same run.
 *
 *   npm run bench:full-load -- [--gb 1.0] [--rounds 1] [--jobs 2] [--keep]
 *
 * Starts its own source (PostgreSQL 15) and target (17), grows the Tasteam fixture to --gb on
 * the source once (src/rehearse/fixture/generate.ts), then per round loads it, each into a
 * fresh empty target database, with:
 *   plan      the plan's Phase 1 commands: `pg_dump --format=custom --no-owner --no-acl -f
 *             backup.dump`, then `pg_restore --no-owner -d <db> backup.dump`, timed end to end;
 *   pgcopydb  `pgcopydb clone --table-jobs 2 --index-jobs 2 --no-owner --no-acl` (Debian's
 *             pgcopydb, installed with apt-get when missing), the tool a user would pick instead;
 *   pgshift   `pgshift full-load --jobs <cores> --json` through the CLI, as a user runs it.
 * Each tool runs as a child process: the time is its wall time, the memory is the peak of the
 * summed RSS of its process tree (sampled every 100 ms) and the largest single process's peak
 * (GNU time's %M). The PostgreSQL servers are shared by all three and not counted in RSS.
 * Beside the wall time it reports the CPU seconds each load cost (the tool's processes plus
 * both servers): on a shared 2-core machine other work inflates wall time far more than CPU
 * time, so that column shows which tool does less work when the ratios are noisy.
 *
 * Every load is then checked against the source — exact row count of every table and
 * materialized view, number of indexes and constraints, large objects, sequence values — so a
 * fast but incomplete load cannot win. Prints one table per round with the ratios, checks the
 * goals (pgshift ≤ 0.5× the plan and ≤ 0.9× pgcopydb) as PASS/MISS, and writes everything to
 * bench/.results/full-load.json. Exit 0 whatever the goals say; 1 if a tool failed or its copy
 * is incomplete; 2 if the benchmark itself broke.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect } from '../src/postgres/connect.js';
import { parseConnInfo } from '../src/postgres/conninfo.js';
import { redact, registerSecret } from '../src/postgres/redact.js';
import { ident } from '../src/postgres/sql.js';
import { generateData, type GenerateResult } from '../src/rehearse/fixture/generate.js';
import { startLocalServer, type LocalServer } from '../src/rehearse/local-server.js';
import {
  ensurePgcopydb,
  freshDatabase,
  PG15_BIN,
  LOAD_SERVER_SETTINGS,
  postmasterPid,
  runPgcopydb,
  runPgshift,
  runPlan,
  settle,
  type LoadContext,
  type LoadOutcome,
  type LoadTool,
  type PgshiftJson,
} from './support/load-tools.js';
import { serverCpuSeconds } from './support/measure-process.js';
import { withUrl } from '../src/postgres/connect.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = join(ROOT, 'bench', '.results', 'full-load.json');
const SOURCE_DB = 'tasteam';
const SLOT_NAME = 'bench_full_load';

const { values: args } = parseArgs({
  options: {
    gb: { type: 'string', default: '1.0' },
    rounds: { type: 'string', default: '1' },
    jobs: { type: 'string', default: String(cpus().length) },
    keep: { type: 'boolean', default: false },
  },
});
const GB = Number(args.gb);
const ROUNDS = Number(args.rounds);
const JOBS = Number(args.jobs);

type Tool = LoadTool;
const TOOLS: Tool[] = ['plan', 'pgcopydb', 'pgshift'];

interface Completeness {
  complete: boolean;
  mismatches: string[];
}

/** One tool's load as bench/support/load-tools.ts measured it, with the CPU split by process and the copy checked. */
interface ToolRun extends Omit<LoadOutcome, 'toolCpu'> {
  /**
   * CPU seconds spent on the load: the tool's processes (GNU time) and each server (postmaster
   * tree, reaped backends included). Unlike wall time, other work on the machine barely moves it.
   */
  cpu: { tool: number; source: number; target: number; total: number };
  completeness: Completeness;
  loadAvgAtStart: number;
}

// ── small helpers ───────────────────────────────────────────────────────────────────────
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const fmtS = (s: number) => `${s.toFixed(1)} s`;

// ── what a complete copy looks like ─────────────────────────────────────────────────────
interface DatabaseFacts {
  rows: Map<string, number | 'not populated'>;
  indexes: number;
  constraints: Map<string, number>;
  largeObjects: number;
  sequences: Map<string, string | null>;
}

const USER_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`;

/** Facts independent of any tool's own bookkeeping, read with plain catalog queries and count(*). */
async function readFacts(url: string): Promise<DatabaseFacts> {
  return withUrl(url, async (c) => {
    const rels = await c.query<{ schema: string; name: string; kind: string; populated: boolean }>(`
      SELECT n.nspname AS schema, c.relname AS name, c.relkind AS kind, c.relispopulated AS populated
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'm') AND ${USER_SCHEMAS} ORDER BY 1, 2`);
    const rows = new Map<string, number | 'not populated'>();
    for (const r of rels.rows) {
      const key = `${r.schema}.${r.name}`;
      if (!r.populated) rows.set(key, 'not populated');
      else rows.set(key, Number((await c.query(`SELECT count(*) AS n FROM ONLY ${ident(r.schema)}.${ident(r.name)}`)).rows[0].n));
    }
    const indexes = Number(
      (
        await c.query(`
      SELECT count(*) AS n FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE ${USER_SCHEMAS} AND i.indisvalid`)
      ).rows[0].n,
    );
    const cons = await c.query<{ contype: string; n: string }>(`
      SELECT con.contype, count(*) AS n FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace
       WHERE ${USER_SCHEMAS} AND con.contype IN ('p', 'u', 'f', 'c', 'x') AND con.convalidated GROUP BY 1`);
    const largeObjects = Number((await c.query('SELECT count(*) AS n FROM pg_largeobject_metadata')).rows[0].n);
    const seqs = await c.query<{ name: string; last_value: string | null }>(
      `SELECT schemaname || '.' || sequencename AS name, last_value::text FROM pg_sequences WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`,
    );
    return {
      rows,
      indexes,
      constraints: new Map(cons.rows.map((r) => [r.contype, Number(r.n)])),
      largeObjects,
      sequences: new Map(seqs.rows.map((r) => [r.name, r.last_value])),
    };
  });
}

function compareFacts(source: DatabaseFacts, target: DatabaseFacts): Completeness {
  const mismatches: string[] = [];
  for (const [table, n] of source.rows) {
    const t = target.rows.get(table);
    if (t === undefined) mismatches.push(`${table}: missing`);
    else if (t !== n) mismatches.push(`${table}: ${t} rows, source ${n}`);
  }
  if (target.indexes !== source.indexes) mismatches.push(`${target.indexes} valid indexes, source ${source.indexes}`);
  for (const type of new Set([...source.constraints.keys(), ...target.constraints.keys()])) {
    const s = source.constraints.get(type) ?? 0;
    const t = target.constraints.get(type) ?? 0;
    if (s !== t) mismatches.push(`${t} validated constraints of type ${type}, source ${s}`);
  }
  if (target.largeObjects !== source.largeObjects) mismatches.push(`${target.largeObjects} large objects, source ${source.largeObjects}`);
  for (const [seq, v] of source.sequences) {
    if (target.sequences.get(seq) !== v) mismatches.push(`sequence ${seq}: ${target.sequences.get(seq)}, source ${v}`);
  }
  return { complete: mismatches.length === 0, mismatches };
}

// ── the three tools ─────────────────────────────────────────────────────────────────────
// ── one round ───────────────────────────────────────────────────────────────────────────
async function runTool(
  tool: Tool,
  servers: { source: LocalServer; target: LocalServer },
  sourceFacts: DatabaseFacts,
  pgcopydbVersion: string,
): Promise<ToolRun> {
  const targetDb = `bench_${tool}`;
  await freshDatabase(servers.target, targetDb);
  await settle([servers.source, servers.target]);
  const ctx: LoadContext = { ...servers, sourceDb: SOURCE_DB, targetDb };
  const loadAvgAtStart = loadavg()[0]!;
  process.stdout.write(`  ${tool.padEnd(8)} ... `);
  const [src0, tgt0] = [serverCpuSeconds(postmasterPid(servers.source)), serverCpuSeconds(postmasterPid(servers.target))];
  const { toolCpu, ...run } =
    tool === 'plan'
      ? await runPlan(ctx)
      : tool === 'pgcopydb'
        ? await runPgcopydb(ctx, pgcopydbVersion, ['--table-jobs', '2', '--index-jobs', '2'])
        : await runPgshift(ctx, { jobs: JOBS, name: SLOT_NAME });
  // Let the tool's backends finish exiting so the postmasters have reaped (and counted) them.
  await new Promise((r) => setTimeout(r, 500));
  const cpuSource = serverCpuSeconds(postmasterPid(servers.source)) - src0;
  const cpuTarget = serverCpuSeconds(postmasterPid(servers.target)) - tgt0;
  const cpu = { tool: toolCpu, source: cpuSource, target: cpuTarget, total: toolCpu + cpuSource + cpuTarget };
  const completeness = run.ok
    ? compareFacts(sourceFacts, await readFacts(servers.target.url(targetDb)))
    : { complete: false, mismatches: ['the tool failed'] };
  console.log(
    `${fmtS(run.seconds)}${run.ok ? '' : ` FAILED: ${run.error}`}${completeness.complete ? '' : `  INCOMPLETE: ${completeness.mismatches.slice(0, 5).join('; ')}`}`,
  );
  // Free the space and the cache the copy took before the next tool runs.
  await withUrl(servers.target.url(), (c) => c.query(`DROP DATABASE IF EXISTS ${ident(targetDb)} WITH (FORCE)`));
  return { ...run, cpu, completeness, loadAvgAtStart };
}

interface RoundResult {
  round: number;
  order: Tool[];
  runs: ToolRun[];
  ratios: { pgshiftVsPlan: number; pgshiftVsPgcopydb: number };
  goals: { vsPlan: 'PASS' | 'MISS'; vsPgcopydb: 'PASS' | 'MISS' };
}

function printRound(r: RoundResult): void {
  const by = new Map(r.runs.map((x) => [x.tool, x]));
  const plan = by.get('plan')!.seconds;
  const pgcopydb = by.get('pgcopydb')!.seconds;
  console.log('');
  console.log(`round ${r.round} (order: ${r.order.join(', ')})`);
  console.log(
    '| tool | seconds | × plan | × pgcopydb | CPU s: tool + source + target = total | peak RSS (process tree) | largest process peak | data dump on disk | complete |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const tool of TOOLS) {
    const x = by.get(tool)!;
    const file = x.diskFile.dataDump
      ? `yes, ${mb(x.diskFile.bytes)}`
      : x.diskFile.bytes > 0
        ? `no (${(x.diskFile.bytes / 1e6).toFixed(1)} MB work dir)`
        : 'no';
    const cpu = `${x.cpu.tool.toFixed(1)} + ${x.cpu.source.toFixed(1)} + ${x.cpu.target.toFixed(1)} = ${x.cpu.total.toFixed(1)}`;
    console.log(
      `| ${tool} | ${x.seconds.toFixed(1)} | ${(x.seconds / plan).toFixed(2)} | ${(x.seconds / pgcopydb).toFixed(2)} | ${cpu} | ${mb(x.peakTreeRss)} (${x.maxProcesses} proc) | ${mb(x.maxProcessRss)} | ${file} | ${x.completeness.complete ? 'yes' : 'NO'} |`,
    );
  }
  console.log(`goal pgshift ≤ 0.5× plan:     ${r.ratios.pgshiftVsPlan.toFixed(2)}  ${r.goals.vsPlan}`);
  console.log(`goal pgshift ≤ 0.9× pgcopydb: ${r.ratios.pgshiftVsPgcopydb.toFixed(2)}  ${r.goals.vsPgcopydb}`);
  const ours = by.get('pgshift')!.details as
    | { engineSeconds: number; steps: { step: string; ms: number }[]; tables: PgshiftJson['tables'] }
    | undefined;
  if (ours) {
    console.log(
      `pgshift steps (engine ${fmtS(ours.engineSeconds)} of ${fmtS(by.get('pgshift')!.seconds)} wall; the rest is node + tsx start-up):`,
    );
    for (const s of ours.steps) if (s.ms >= 100) console.log(`  ${(s.ms / 1000).toFixed(2).padStart(6)} s  ${s.step}`);
    console.log('pgshift biggest tables (seconds from first chunk start to last chunk end):');
    for (const t of [...ours.tables].sort((a, b) => b.bytes - a.bytes).slice(0, 6)) {
      console.log(
        `  ${t.seconds.toFixed(1).padStart(5)} s  ${`${t.schema}.${t.name}`.padEnd(34)} ${mb(t.bytes).padStart(7)} ${String(t.rows).padStart(9)} rows  ${t.chunks} chunks, ${t.indexes} indexes`,
      );
    }
  }
  const plansRun = by.get('plan')!.details as { dumpSeconds: number; restoreSeconds?: number };
  console.log(`plan: pg_dump ${fmtS(plansRun.dumpSeconds)} + pg_restore ${fmtS(plansRun.restoreSeconds ?? 0)}`);
}

// ── main ────────────────────────────────────────────────────────────────────────────────
async function describeSource(
  url: string,
): Promise<{ schema: string; name: string; rows: number; bytes: number; totalBytes: number; indexes: number }[]> {
  return withUrl(url, async (c) => {
    const res = await c.query(`
      SELECT n.nspname AS schema, c.relname AS name, c.reltuples::bigint AS rows,
             pg_table_size(c.oid)::bigint AS bytes, pg_total_relation_size(c.oid)::bigint AS total,
             (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid)::int AS indexes
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'm') AND ${USER_SCHEMAS} ORDER BY pg_total_relation_size(c.oid) DESC`);
    return res.rows.map((r) => ({
      schema: r.schema,
      name: r.name,
      rows: Number(r.rows),
      bytes: Number(r.bytes),
      totalBytes: Number(r.total),
      indexes: r.indexes,
    }));
  });
}

async function main(): Promise<number> {
  if (!(GB > 0) || !Number.isInteger(ROUNDS) || ROUNDS < 1 || !Number.isInteger(JOBS) || JOBS < 1) {
    console.error('usage: npm run bench:full-load -- [--gb 1.0] [--rounds N] [--jobs N] [--keep]');
    return 2;
  }
  const pgcopydbVersion = ensurePgcopydb();
  const pgDumpVersion = execFileSync(join(PG15_BIN, 'pg_dump'), ['--version'], { encoding: 'utf8' }).trim();
  console.log(
    `bench:full-load — ${GB} GB, PostgreSQL 15 → 17 on loopback, ${cpus().length} cores, pgshift --jobs ${JOBS}; ${pgDumpVersion}; pgcopydb ${pgcopydbVersion}`,
  );
  console.log(
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} (other work on this machine adds noise to every figure)`,
  );

  const servers = await Promise.all([
    startLocalServer({ major: 15, name: 'bench-full-load-source', settings: LOAD_SERVER_SETTINGS }),
    startLocalServer({ major: 17, name: 'bench-full-load-target', settings: LOAD_SERVER_SETTINGS }),
  ]);
  const [source, target] = servers as [LocalServer, LocalServer];
  for (const s of servers) registerSecret(s.password);
  try {
    await withUrl(source.url(), (c) => c.query(`CREATE DATABASE ${ident(SOURCE_DB)}`));
    const client = await connect(parseConnInfo(source.url(SOURCE_DB), 'source'));
    let generated: GenerateResult;
    try {
      generated = await generateData(client, { targetBytes: GB * 1e9 });
    } finally {
      await client.end();
    }
    const shape = await describeSource(source.url(SOURCE_DB));
    const big = shape.filter((t) => t.totalBytes >= 20e6);
    console.log(
      `data: ${(generated.databaseBytes / 1e9).toFixed(2)} GB database (pg_database_size), generated in ${fmtS(generated.seconds)}; ${shape.length} tables and materialized views:`,
    );
    for (const t of big)
      console.log(
        `  ${`${t.schema}.${t.name}`.padEnd(36)} ${String(t.rows).padStart(9)} rows  ${mb(t.bytes).padStart(7)} data  ${mb(t.totalBytes).padStart(7)} with ${t.indexes} indexes`,
      );
    console.log(
      `  + ${shape.length - big.length} smaller ones, ${mb(shape.slice(big.length).reduce((s, t) => s + t.totalBytes, 0))} together`,
    );

    // Reading every table once also warms the source's cache the same way for all three tools.
    const sourceFacts = await readFacts(source.url(SOURCE_DB));
    const totalRows = [...sourceFacts.rows.values()].reduce<number>((s, n) => s + (typeof n === 'number' ? n : 0), 0);
    console.log(
      `source: ${totalRows.toLocaleString('en')} rows, ${sourceFacts.indexes} indexes, ${[...sourceFacts.constraints.values()].reduce((a, b) => a + b, 0)} constraints, ${sourceFacts.largeObjects} large objects, ${sourceFacts.sequences.size} sequences`,
    );

    const rounds: RoundResult[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      // Rotate the order between rounds so no tool always runs first (or last) on a busy machine.
      const order = TOOLS.map((_, i) => TOOLS[(i + round - 1) % TOOLS.length]!);
      console.log(`\nround ${round}:`);
      const runs: ToolRun[] = [];
      for (const tool of order) runs.push(await runTool(tool, { source, target }, sourceFacts, pgcopydbVersion));
      const by = new Map(runs.map((x) => [x.tool, x.seconds]));
      const ratios = { pgshiftVsPlan: by.get('pgshift')! / by.get('plan')!, pgshiftVsPgcopydb: by.get('pgshift')! / by.get('pgcopydb')! };
      const result: RoundResult = {
        round,
        order,
        runs,
        ratios,
        goals: { vsPlan: ratios.pgshiftVsPlan <= 0.5 ? 'PASS' : 'MISS', vsPgcopydb: ratios.pgshiftVsPgcopydb <= 0.9 ? 'PASS' : 'MISS' },
      };
      rounds.push(result);
      printRound(result);
    }

    mkdirSync(dirname(RESULTS), { recursive: true });
    const json = {
      benchmark: 'full-load',
      finishedAt: new Date().toISOString(),
      machine: { cores: cpus().length, cpu: cpus()[0]?.model, loadAvgAtEnd: loadavg() },
      tools: { pgDump: pgDumpVersion, pgcopydb: pgcopydbVersion, pgshiftJobs: JOBS },
      serverSettings: LOAD_SERVER_SETTINGS,
      rssMethod:
        'peakTreeRss: largest sum of VmRSS over the tool process and all its descendants, sampled every 100 ms from /proc; ' +
        'maxProcessRss: GNU time %M (ru_maxrss of the largest single process in the tree). PostgreSQL server backends are not counted.',
      cpuMethod:
        'cpu.tool: GNU time %U + %S of the tool and its reaped descendants; cpu.source/target: growth of utime+stime over each postmaster tree, ' +
        "live processes plus the postmaster's cutime/cstime (reaped backends), read before the tool starts and 0.5 s after it exits.",
      data: { requestedGb: GB, databaseBytes: generated.databaseBytes, generateSeconds: generated.seconds, rows: totalRows, tables: shape },
      rounds,
    };
    writeFileSync(RESULTS, `${JSON.stringify(json, null, 2)}\n`);
    console.log(`\nresults: ${RESULTS}`);
    const broken = rounds.flatMap((r) => r.runs).filter((x) => !x.ok || !x.completeness.complete);
    if (broken.length) {
      console.log(`not comparable: ${broken.map((x) => `${x.tool} ${x.ok ? 'incomplete' : 'failed'}`).join(', ')}`);
      return 1;
    }
    return 0;
  } finally {
    if (!args.keep) await Promise.all(servers.map((s) => s.destroy()));
    else console.log(`servers kept: source port ${source.port}, target port ${target.port}`);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench:full-load broke: ${redact(err instanceof Error ? (err.stack ?? err.message) : String(err))}`);
    process.exit(2);
  },
);
