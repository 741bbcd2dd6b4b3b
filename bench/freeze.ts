/**
 * Benchmark: the write freeze must not grow with the database (issue 15).
 *
 *   npm run bench:freeze -- [--sizes 0.25,1,3] [--switches 9] [--rate 200] [--stage-seconds 3]
 *
 * For each size, in one run: the whole rehearsal (src/rehearse/rehearse.ts) on its own servers,
 * with the Tasteam fixture grown to that size by the benchmarks' generator, `--rate` application
 * writes/s through PgBouncer and every acknowledged write in a ledger: cutover, rollback, cutover
 * again, then more rollback + cutover pairs up to `--switches` switches (odd, at least 3) on the same
 * data, so that one slow switch on a shared machine does not decide a size's figure. Per size it
 * prints each switch's freeze, each frozen step's time and the time of the after-resume check in the
 * switch-point snapshots; then the median, p90 and max freeze per size, and the goals:
 *   - the median freeze at the largest size within 20 % of the median at the smallest (the ratio is printed);
 *   - every freeze ≤ 1 s;
 *   - 0 failed and 0 lost writes (the ledger checked on the final primary), every switch-point check equal.
 * Writes everything to bench/.results/freeze.json. Exit 0 when the goals are met, 1 when one is
 * missed, 2 when the benchmark itself broke.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stderrLogger } from '../src/log/logger.js';
import { redact } from '../src/postgres/redact.js';
import { formatBytes } from '../src/rehearse/fixture/generate.js';
import { percentile, runRehearsal, type RehearsalResult, type SwitchSummary } from '../src/rehearse/rehearse.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = join(ROOT, 'bench', '.results', 'freeze.json');

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '0.25,1,3' },
    switches: { type: 'string', default: '9' },
    rate: { type: 'string', default: '200' },
    'stage-seconds': { type: 'string', default: '3' },
  },
});
const SIZES = String(args.sizes)
  .split(',')
  .map((s) => Number(s.trim()));
const SWITCH_COUNT = Number(args.switches);
const RATE = Number(args.rate);
const STAGE = Number(args['stage-seconds']);
if (
  SIZES.some((n) => !Number.isFinite(n) || n <= 0) ||
  !Number.isInteger(SWITCH_COUNT) ||
  SWITCH_COUNT < 3 ||
  SWITCH_COUNT % 2 === 0 ||
  !(RATE > 0) ||
  !(STAGE > 0)
) {
  process.stderr.write(
    'bench:freeze: --sizes takes GB such as 0.25,1,3; --switches an odd number, at least 3 (cutover, rollback, cutover again, then pairs); --rate and --stage-seconds positive numbers\n',
  );
  process.exit(2);
}

type Switch = SwitchSummary & { label: string };

/** Every switch of a rehearsal, in order, with its label. */
function switchesOf(r: Omit<RehearsalResult, 'series'>): Switch[] {
  return [
    { label: 'cutover', ...r.cutover },
    { label: 'rollback', ...r.rollback },
    { label: 'cutover again', ...r.cutoverAgain },
    ...(r.moreSwitches ?? []),
  ];
}

/** The steps during which writes are frozen: from 'freeze writes' to 'switch the application', as the run recorded them. */
function frozenSteps(s: SwitchSummary): [string, number][] {
  const steps = Object.entries(s.stepMs);
  const from = steps.findIndex(([name]) => name === 'freeze writes');
  const to = steps.findIndex(([name]) => name === 'switch the application');
  return from < 0 || to < 0 ? [] : steps.slice(from, to + 1);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const p90 = (xs: number[]) => percentile(xs, 90) ?? Number.NaN;

interface SizeRun {
  gb: number;
  databaseBytes: number;
  loadAverageAtStart: number;
  result: Omit<RehearsalResult, 'series'>;
  freezes: number[];
  medianFreezeMs: number;
  p90FreezeMs: number;
  /** Per frozen step: median and p90 over the size's switches. */
  steps: { step: string; medianMs: number; p90Ms: number }[];
}

function printSize(run: SizeRun): void {
  const r = run.result;
  const lines = [
    '',
    `── ${run.gb} GB requested: database ${formatBytes(run.databaseBytes)}, load average ${run.loadAverageAtStart.toFixed(1)} at start ──`,
  ];
  for (const s of switchesOf(r)) {
    const check = s.snapshotCheck;
    lines.push(
      `${s.label.padEnd(14)} freeze ${String(s.writeFreezeMs).padStart(5)} ms = ${frozenSteps(s)
        .map(([name, ms]) => `${name} ${ms}`)
        .join(' + ')}`,
      `${''.padEnd(14)} wait: ${s.stepDetail?.['wait for zero lag'] ?? '-'}`,
      `${''.padEnd(14)} switch: ${s.stepDetail?.['switch the application'] ?? '-'}; after resume: switch-point check ${
        check ? `${check.ok ? 'equal' : 'MISMATCH'} in ${check.ms} ms (${check.tables} tables, ${check.mode})` : 'skipped'
      }`,
    );
  }
  lines.push(
    `freeze over ${run.freezes.length} switches: median ${run.medianFreezeMs} ms, p90 ${run.p90FreezeMs} ms, max ${Math.max(...run.freezes)} ms`,
    `frozen steps, median / p90 ms: ${run.steps.map((x) => `${x.step} ${x.medianMs} / ${x.p90Ms}`).join(', ')}`,
    `writes: ${r.writes.acknowledged} acknowledged, ${r.writes.failed} failed, ${r.writes.lost} lost; full-load ${r.fullLoad.seconds.toFixed(1)} s`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

function sizeRun(gb: number, loadAverageAtStart: number, result: Omit<RehearsalResult, 'series'>): SizeRun {
  const switches = switchesOf(result);
  const freezes = switches.map((s) => s.writeFreezeMs);
  const stepNames = frozenSteps(result.cutover).map(([n]) => n);
  const steps = stepNames.map((step) => {
    const ms = switches.map((s) => s.stepMs[step] ?? 0);
    return { step, medianMs: median(ms), p90Ms: p90(ms) };
  });
  return {
    gb,
    databaseBytes: result.databaseBytes,
    loadAverageAtStart,
    result,
    freezes,
    medianFreezeMs: median(freezes),
    p90FreezeMs: p90(freezes),
    steps,
  };
}

async function main(): Promise<number> {
  const log = stderrLogger();
  const runs: SizeRun[] = [];
  for (const gb of SIZES) {
    const loadAverageAtStart = loadavg()[0]!;
    log.info(`bench:freeze: ${gb} GB at ${RATE} writes/s, ${SWITCH_COUNT} switches`);
    const { series: _series, ...result } = await runRehearsal({
      targetBytes: gb * 1e9,
      rate: RATE,
      stageSeconds: STAGE,
      extraRoundTrips: (SWITCH_COUNT - 3) / 2,
      log,
    });
    const run = sizeRun(gb, loadAverageAtStart, result);
    runs.push(run);
    printSize(run);
  }

  const smallest = runs[0]!;
  const largest = runs[runs.length - 1]!;
  const ratio = largest.medianFreezeMs / smallest.medianFreezeMs;
  const allFreezes = runs.flatMap((r) => r.freezes);
  const failed = runs.reduce((n, r) => n + r.result.writes.failed, 0);
  const lost = runs.reduce((n, r) => n + r.result.writes.lost, 0);
  const checksEqual = runs.every((r) => switchesOf(r.result).every((s) => s.snapshotCheck?.ok === true));
  const goals = [
    {
      goal: `median freeze at ${formatBytes(largest.databaseBytes)} within 20 % of ${formatBytes(smallest.databaseBytes)}`,
      value: `${largest.medianFreezeMs} ms / ${smallest.medianFreezeMs} ms = ${ratio.toFixed(2)} (${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(0)} %; p90 ${largest.p90FreezeMs} / ${smallest.p90FreezeMs} ms)`,
      met: runs.length > 1 && ratio <= 1.2,
    },
    { goal: 'every freeze ≤ 1 s', value: `max ${Math.max(...allFreezes)} ms`, met: allFreezes.every((ms) => ms <= 1000) },
    { goal: '0 failed, 0 lost writes', value: `${failed} failed, ${lost} lost`, met: failed === 0 && lost === 0 },
    { goal: 'every switch-point check equal', value: checksEqual ? 'equal' : 'NOT equal', met: checksEqual },
  ];
  const table = [
    '',
    '| database | switches | freeze median / p90 / max | frozen steps, median / p90 ms | switch-point check after resume, median |',
    '|---|---|---|---|---|',
    ...runs.map((r) => {
      const steps = r.steps.map((x) => `${x.step} ${x.medianMs} / ${x.p90Ms}`).join(', ');
      const checks = switchesOf(r.result).flatMap((s) => (s.snapshotCheck ? [s.snapshotCheck.ms] : []));
      return `| ${formatBytes(r.databaseBytes)} | ${r.freezes.length} | ${r.medianFreezeMs} / ${r.p90FreezeMs} / ${Math.max(...r.freezes)} ms | ${steps} | ${checks.length ? `${median(checks)} ms` : '-'} |`;
    }),
    '',
    ...goals.map((g) => `${g.met ? 'PASS' : 'MISS'}  ${g.goal}: ${g.value}`),
  ];
  process.stdout.write(`${table.join('\n')}\n`);
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify({ at: new Date().toISOString(), rate: RATE, switches: SWITCH_COUNT, runs, goals }, null, 2)}\n`);
  process.stdout.write(`results: ${RESULTS}\n`);
  return goals.every((g) => g.met) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench:freeze broke: ${redact(err instanceof Error ? err.message : String(err))}\n`);
    process.exit(2);
  },
);
