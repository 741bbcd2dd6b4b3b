/**
 * Action adapter for `cdc start | status | stop`. start subscribes the target from full-load's
 * slot; start and status then watch the lag (one sample a second, by LSN and by heartbeat) for
 * the chart and the outputs, waiting up to wait-caught-up for the lag to fall to caught-up-lag.
 */
import { startCdc, stopCdc, watchCdc, type CdcStatus, type StartCdcResult, type StopCdcResult } from '../../../src/engine/cdc/index.js';
import { migrationNames, type MigrationNames } from '../../../src/engine/names.js';
import type { ConnInfo } from '../../../src/postgres/conninfo.js';
import { checkFailed } from '../../../src/errors.js';
import { connectionsFromInputs } from '../../common/connections.js';
import { dmsEngineFromInputs, engineName } from '../../common/engine.js';
import { dmsCdcStatus, startDmsCdc, stopDmsCdc } from '../../../src/engine/cdc/dms.js';
import { input, inputText, requiredOption } from '../../common/inputs.js';
import { actionsLogger, group } from '../../common/logger.js';
import { bytes, count } from '../../common/render.js';
import { runPhaseAction, type PhaseOutcome } from '../../common/run.js';
import type { Annotation } from '../../common/summary.js';
import {
  point,
  renderDmsStatus,
  renderDmsStop,
  renderStop,
  renderWatch,
  type CdcCommand,
  type Watched,
} from '../../common/summaries/cdc.js';

type Command = CdcCommand;

async function run(signal: AbortSignal): Promise<PhaseOutcome> {
  const command: Command = requiredOption('command');
  const { source, target, sourceFromTarget } = await connectionsFromInputs();
  const base = migrationNames(input('name')!);
  // full-load's slot-name output; the same as the derived name unless someone renamed it.
  const names: MigrationNames = { ...base, slot: inputText('slot-name') ?? base.slot };
  const log = actionsLogger();
  if (engineName() === 'dms') return dmsCommand(command, { source, target, names, engine: dmsEngineFromInputs(names.name, log), log });
  if (command === 'stop') {
    const stopped = await group('cdc stop', () => stopCdc({ source, target, names, log }));
    return stopOutcome(stopped, names);
  }
  let started: StartCdcResult | undefined;
  if (command === 'start')
    started = await group('cdc start', () =>
      startCdc({ source, sourceFromTarget, target, names, createHelperIndexes: true, ddl: input('ddl'), log, signal }),
    );
  const maxLag = input('caught-up-lag')!;
  const waitSeconds = input('wait-caught-up')! / 1000;
  const watched = await group('replication lag', () => watchLag({ source, target, names, maxLag, waitSeconds, log }));
  return watchOutcome(command, started, watched, maxLag, waitSeconds);
}

/** Sample once a second: at least a few samples for the chart, until caught up or the wait runs out. */
async function watchLag(o: {
  source: ConnInfo;
  target: ConnInfo;
  names: MigrationNames;
  maxLag: number;
  waitSeconds: number;
  log: ReturnType<typeof actionsLogger>;
}): Promise<Watched> {
  const minSamples = 5;
  const deadline = Date.now() + o.waitSeconds * 1000;
  const series = await watchCdc(
    { source: o.source, target: o.target, names: o.names, probeTimeoutMs: 2000 },
    1000,
    ({ status: s }) =>
      o.log.progress(
        `lag ${s!.lagBytes ?? '?'} bytes, ${s!.lagMs ?? (s!.lagMsAtLeast !== null ? `>${s!.lagMsAtLeast}` : '?')} ms, slot retains ${bytes(s!.retained.bytes)}`,
      ),
    new AbortController().signal,
    // A failed sample fails the step (reconnect: false), so every sample has its status.
    { reconnect: false, until: (s, all) => all.length >= minSamples && (isCaughtUp(s.status!, o.maxLag) || Date.now() >= deadline) },
  );
  const samples = series.map((s) => s.status!);
  return { samples, caughtUp: isCaughtUp(samples.at(-1)!, o.maxLag) };
}

const isCaughtUp = (s: CdcStatus, maxLag: number) => s.subscription?.workerRunning === true && s.lagBytes !== null && s.lagBytes <= maxLag;

function watchOutcome(
  command: Command,
  started: StartCdcResult | undefined,
  w: Watched,
  maxLag: number,
  waitSeconds: number,
): PhaseOutcome {
  const last = w.samples[w.samples.length - 1]!;
  const verdict = last.verdict === 'critical' ? 'failing' : w.caughtUp ? 'streaming' : 'catching-up';
  const annotations: Annotation[] = last.findings.map((f) => ({
    level: f.level === 'critical' ? 'error' : 'warning',
    title: `cdc ${f.level}`,
    message: f.message,
  }));
  let failure: string | undefined;
  if (last.verdict === 'critical')
    failure = `cdc ${command}: ${
      last.findings
        .filter((f) => f.level === 'critical')
        .map((f) => f.message)
        .join('; ') || 'critical state'
    } — see runbooks/cdc.md`;
  else if (waitSeconds > 0 && !w.caughtUp)
    failure = checkFailed(
      `cdc ${command}: the target did not catch up to ${count(maxLag)} bytes of lag within ${waitSeconds} s (now ${count(last.lagBytes)} bytes)`,
      'read the lag chart; if it falls, run cdc status again with a longer wait',
    ).oneLine();
  return {
    report: { command, start: started ?? null, caughtUp: w.caughtUp, status: last, series: w.samples.map(point) },
    outputs: {
      subscription: last.subscription?.name ?? started?.subscription ?? '',
      'slot-name': last.slot?.slotName ?? started?.slotName ?? '',
      'lag-bytes': last.lagBytes ?? '',
      'lag-ms': last.lagMs ?? '',
      'retained-wal-bytes': last.retained.bytes,
      verdict,
    },
    summary: renderWatch(command, started, w, verdict, maxLag),
    annotations,
    failure,
  };
}

function stopOutcome(r: StopCdcResult, names: MigrationNames): PhaseOutcome {
  return {
    report: { command: 'stop', stop: r },
    outputs: { subscription: names.subscription, 'slot-name': names.slot, verdict: 'stopped' },
    summary: renderStop(r, names),
    annotations: r.leftovers.map((l) => ({
      level: 'warning',
      title: 'left on the source',
      message: `${l.kind} ${l.name} is still on the source (it keeps WAL): ${l.sql}`,
    })),
  };
}

await runPhaseAction({ phase: 'cdc', title: 'cdc', run });

/** engine: dms — the task instead of a subscription; the slot's lag by LSN and retained WAL as for native. */
async function dmsCommand(command: Command, o: Parameters<typeof startDmsCdc>[0]): Promise<PhaseOutcome> {
  if (command === 'stop') {
    const r = await group('cdc stop (dms)', () => stopDmsCdc(o));
    return {
      outputs: { verdict: 'stopped' },
      summary: renderDmsStop(r),
      report: r,
    };
  }
  if (command === 'start') await group('cdc start (dms)', () => startDmsCdc(o));
  const s = await group('cdc status (dms)', () => dmsCdcStatus(o));
  return {
    outputs: {
      'slot-name': o.names.slot,
      'lag-bytes': s.lagBytes ?? undefined,
      'retained-wal-bytes': s.slot?.retainedBytes,
      verdict: s.ok ? 'streaming' : 'failing',
    },
    summary: renderDmsStatus(s),
    failure: s.ok
      ? undefined
      : `DMS task ${s.task?.identifier ?? '(none)'} is ${s.task?.status ?? 'missing'}${s.task?.lastFailureMessage ? `: ${s.task.lastFailureMessage}` : ''}`,
    report: s,
  };
}
