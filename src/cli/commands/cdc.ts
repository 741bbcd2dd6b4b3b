import { Command } from 'commander';
import { cdcStatus, startCdc, stopCdc, watchCdc, type CdcSample } from '../../engine/cdc/index.js';
import { cancelOnSignals } from '../../signals.js';
import { ddlReport, resolveDdlCommand } from '../../engine/ddl/index.js';
import { usageError } from '../../errors.js';
import { action, addConnectionOptions, emit, makeContext, type CommandContext, type GlobalOptions } from '../context.js';
import { dmsCdcStatus, startDmsCdc, stopDmsCdc, type DmsCdcStatus } from '../../engine/cdc/dms.js';
import { startReturnLink } from '../../engine/cdc/return-link.js';
import { type LinkSample, watchLink } from '../../engine/cdc/link-watch.js';
import type { DmsEngine } from '../../engine/replication/dms.js';
import { addEngineOptions, enginesFrom } from '../engine-options.js';
import { flag, flagText, flagValue } from '../flags.js';
import { renderCdcStart, renderCdcStatus, renderCdcStop, renderDdlReport, renderWatchNewTables } from '../render.js';

export function cdcCommand(): Command {
  const cdc = new Command('cdc').description('change data capture: start, watch and stop the subscription');

  const start = new Command('start').description(
    "subscribe the target to full-load's slot (copy_data = false: nothing lost, nothing twice)",
  );
  addEngineOptions(addConnectionOptions(start, { source: true, target: true, sourceFromTarget: true }))
    .addOption(flag('cdc-strategy'))
    .addOption(flag('binary'))
    .addOption(flag('streaming'))
    .addOption(flag('disable-on-error'))
    .addOption(flag('create-helper-indexes'))
    .addOption(flag('ddl'));
  start.action(
    action(async (flags: GlobalOptions & { streaming?: boolean }) => {
      const ctx = makeContext(flags);
      if (flagValue(flags, 'engine') === 'dms') {
        const r = await startDmsCdc({ ...dmsPhase(flags, ctx) });
        emit(ctx, r, () => `DMS task ${r.task} running from slot ${r.slotName} (${r.seconds.toFixed(1)} s)`);
        return 0;
      }
      // SIGINT/SIGTERM/SIGHUP: what this start made is dropped, then exit 1 (docs/design.md rule 12).
      const cancel = cancelOnSignals(ctx.log);
      const result = await startCdc({
        signal: cancel.signal,
        source: ctx.source(),
        sourceFromTarget: ctx.sourceFromTarget(),
        target: ctx.target(),
        names: ctx.names,
        strategy: flagValue(flags, 'cdc-strategy')!,
        // Only what the person gave: the engine's subscription defaults hold for the rest.
        options: definedOnly({
          binary: flagValue(flags, 'binary'),
          streaming: flags.streaming === false ? false : undefined,
          disableOnError: flagValue(flags, 'disable-on-error'),
        }),
        createHelperIndexes: flagValue(flags, 'create-helper-indexes'),
        ddl: flagValue(flags, 'ddl'),
        log: ctx.log,
      });
      emit(ctx, result, () => renderCdcStart(result));
      return 0;
    }),
  );

  const startReturn = new Command('start-return').description(
    "after a switchover that said 'replication back ... did not start': once the cause is fixed, start the return link from the slot the switch made (it kept every write since); nothing to do when a link already runs",
  );
  addEngineOptions(addConnectionOptions(startReturn, { source: true, target: true, sourceFromTarget: true }), { reverse: true }).addOption(
    flag('target-from-source-url'),
  );
  startReturn.action(
    action(async (flags: GlobalOptions) => {
      const ctx = makeContext(flags);
      const r = await startReturnLink({
        source: ctx.source(),
        target: ctx.target(),
        sourceFromTarget: ctx.sourceFromTarget(),
        targetFromSource: ctx.targetFromSource(),
        names: ctx.names,
        ...enginesFrom(flags, ctx),
        log: ctx.log,
      });
      emit(ctx, r, () => r.detail);
      return 0;
    }),
  );

  const status = new Command('status').description('per-table state, apply errors, lag in bytes (by LSN) and ms, WAL retained by the slot');
  addEngineOptions(addConnectionOptions(status)).addOption(flag('watch')).addOption(flag('warn-retained')).addOption(flag('max-retained'));
  status.action(
    action(async (flags: GlobalOptions & { watch?: string | boolean }) => {
      const ctx = makeContext(flags);
      if (flagValue(flags, 'engine') === 'dms') {
        if (flags.watch) return watchDms(flags, ctx);
        const s = await dmsCdcStatus(dmsPhase(flags, ctx));
        emit(ctx, s, () => renderDmsStatus(s));
        return s.ok ? 0 : 1;
      }
      const opts = {
        source: ctx.source(),
        target: ctx.target(),
        names: ctx.names,
        warnRetainedBytes: flagValue(flags, 'warn-retained'),
        maxRetainedBytes: flagValue(flags, 'max-retained'),
      };
      if (!flags.watch) {
        const s = await cdcStatus(opts);
        emit(ctx, s, () => renderCdcStatus(s));
        return s.verdict === 'critical' ? 1 : 0;
      }
      const interval = flagValue(flags, 'watch')!;
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      process.once('SIGTERM', () => abort.abort());
      const series = await watchCdc(
        { ...opts, log: ctx.log },
        interval,
        (s: CdcSample) => {
          if (flags.json)
            process.stdout.write(
              `${JSON.stringify({ at: s.at, lagBytes: s.lagBytes, lagMs: s.lagMs, retainedBytes: s.retainedBytes, verdict: s.verdict, ...(s.newTables ? { newTables: s.newTables } : {}) })}\n`,
            );
          else {
            process.stdout.write(
              `${s.at}  lag ${s.lagBytes ?? '?'} B  ${s.lagMs ?? (s.lagMsAtLeast ? `>${s.lagMsAtLeast}` : '?')} ms  retained ${s.retainedBytes} B  ${s.verdict}\n`,
            );
            if (s.newTables) process.stdout.write(`${s.at}  ${renderWatchNewTables(s.newTables)}\n`);
          }
        },
        abort.signal,
      );
      return series.at(-1)?.verdict === 'critical' ? 1 : 0;
    }),
  );

  const stop = new Command('stop').description(
    'drop the subscription, the slot and the publication (detaches when the source is unreachable)',
  );
  addEngineOptions(addConnectionOptions(stop));
  stop.action(
    action(async (flags: GlobalOptions) => {
      const ctx = makeContext(flags);
      if (flagValue(flags, 'engine') === 'dms') {
        const r = await stopDmsCdc(dmsPhase(flags, ctx));
        emit(ctx, r, () => (r.removed.length ? `removed: ${r.removed.join(', ')}` : 'nothing to stop'));
        return 0;
      }
      const result = await stopCdc({ source: ctx.source(), target: ctx.target(), names: ctx.names, log: ctx.log });
      emit(ctx, result, () => renderCdcStop(result));
      return result.leftovers.length ? 1 : 0;
    }),
  );
  return cdc.addCommand(start).addCommand(startReturn).addCommand(status).addCommand(stop).addCommand(ddlCommand());
}

/** `cdc ddl`: captured schema changes and their state; adds new tables to the subscription. `cdc ddl resolve`: unblock a stop. */
function ddlCommand(): Command {
  const ddl = new Command('ddl').description(
    'captured schema changes (applied, pending, stopped); adds tables created on the source to the subscription',
  );
  addConnectionOptions(ddl).addOption(flag('refresh'));
  ddl.action(
    action(async (flags: GlobalOptions) => {
      const ctx = makeContext(flags);
      const report = await ddlReport({
        source: ctx.source(),
        target: ctx.target(),
        names: ctx.names,
        log: ctx.log,
        refresh: flagValue(flags, 'refresh')!,
      });
      emit(ctx, report, () => renderDdlReport(report));
      return report.stoppedOn ? 1 : 0;
    }),
  );
  const resolve = new Command('resolve')
    .description('unblock a stopped DDL: the SQL to run on the target in its place, or that it was applied by hand')
    .argument('<id>', 'the id shown by pgshift cdc ddl');
  // The connection options belong to 'cdc ddl' (commander reads a parent's options after the subcommand too).
  resolve.addOption(flag('sql')).addOption(flag('mark-applied'));
  resolve.action(
    action(async (id: string, own: object, command: Command) => {
      const flags = { ...(command.parent?.opts() as GlobalOptions), ...own };
      const ctx = makeContext(flags);
      if (!/^[1-9][0-9]*$/.test(id)) throw usageError(`DDL id '${id}' is not a positive integer`, "see the ids with 'pgshift cdc ddl'");
      const result = await resolveDdlCommand({
        source: ctx.source(),
        target: ctx.target(),
        names: ctx.names,
        log: ctx.log,
        id: Number(id),
        resolution: { sql: flagText(flags, 'sql'), markApplied: flagValue(flags, 'mark-applied') },
      });
      emit(
        ctx,
        result,
        () =>
          `DDL #${result.id} (${result.class}) resolved: the apply worker's next retry applies it; check with pgshift cdc ddl (a disabled subscription: pgshift cdc start --name ${ctx.names.name})`,
      );
      return 0;
    }),
  );
  return ddl.addCommand(resolve);
}

/** Drop what is undefined, so the engine's defaults hold for it. */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The dms phase's options: the connections and the dms engine the flags describe. */
function dmsPhase(flags: object, ctx: CommandContext) {
  return {
    source: ctx.source(),
    target: ctx.target(),
    names: ctx.names,
    engine: enginesFrom(flags, ctx).engine as DmsEngine,
    log: ctx.log,
  };
}

/** `cdc status --engine dms --watch`: the task, its tables and the slot's lag by LSN, one line per sample until Ctrl-C. */
async function watchDms(flags: GlobalOptions, ctx: CommandContext): Promise<number> {
  const phase = dmsPhase(flags, ctx);
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  const series = await watchLink(
    {
      source: phase.source,
      target: phase.target,
      names: ctx.names,
      engine: phase.engine,
      warnRetainedBytes: flagValue(flags, 'warn-retained'),
      maxRetainedBytes: flagValue(flags, 'max-retained'),
    },
    flagValue(flags, 'watch')!,
    (s) => process.stdout.write(flags.json ? `${JSON.stringify(s)}\n` : `${renderLinkSample(s)}\n`),
    abort.signal,
  );
  return series.at(-1)?.verdict === 'critical' ? 1 : 0;
}

function renderLinkSample(s: LinkSample): string {
  if (s.error) return `${s.at}  ${s.error}  critical`;
  const tables = s.tables
    ? Object.entries(s.tables)
        .map(([state, n]) => `${n} ${state}`)
        .join(', ')
    : 'no table states';
  return `${s.at}  ${s.detail}  tables: ${tables}  lag ${s.lagBytes ?? '?'} B  retained ${s.retainedBytes ?? '?'} B  ${s.verdict}`;
}

function renderDmsStatus(s: DmsCdcStatus): string {
  const lines = [
    `DMS task ${s.task?.identifier ?? '(none)'}: ${s.task?.status ?? 'missing'}${s.task?.lastFailureMessage ? ` — ${s.task.lastFailureMessage.replace(/\s+/g, ' ')}` : ''}`,
    `slot ${s.slot?.slotName ?? '(none)'}: lag ${s.lagBytes ?? '?'} B by LSN, retained ${s.slot?.retainedBytes ?? '?'} B, wal_status ${s.slot?.walStatus ?? '?'}`,
    `CloudWatch CDCLatencySource ${s.latency?.sourceSeconds ?? '?'} s, CDCLatencyTarget ${s.latency?.targetSeconds ?? '?'} s (one-minute points)`,
    ...s.tables.map(
      (t) =>
        `  ${t.schema}.${t.name}: ${t.state}, +${t.inserts} ~${t.updates} -${t.deletes}${t.validationState ? `, validation ${t.validationState} (${t.validationFailedRecords} failed)` : ''}`,
    ),
  ];
  return lines.join('\n');
}
