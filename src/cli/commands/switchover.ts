/** cutover and rollback: the same options (how to switch the application, bounds of the freeze). */
import { Command } from 'commander';
import { runCutover } from '../../engine/cutover/cutover.js';
import { runRollback } from '../../engine/rollback/rollback.js';
import { stateDir } from '../../engine/cutover/state-file.js';
import { SwitchoverAborted, type SwitchoverOptions } from '../../engine/cutover/switchover.js';
import { usageError } from '../../errors.js';
import { cancelOnSignals } from '../../signals.js';
import { parseConnInfo } from '../../postgres/conninfo.js';
import { makeSwitch, type Switch } from '../../switch/switch.js';
import { action, addConnectionOptions, emit, makeContext, type CommandContext, type GlobalOptions } from '../context.js';
import { flag, flagText, flagValue } from '../flags.js';
import { addEngineOptions, enginesFrom } from '../engine-options.js';
import { renderRollback, renderSwitchover } from '../render.js';

export interface SwitchFlags extends GlobalOptions {
  targetFromSourceUrl?: string;
  appUrl?: string;
  pgbouncerAdminUrl?: string;
}

export function addSwitchOptions(cmd: Command): Command {
  addEngineOptions(cmd, { reverse: true });
  return addConnectionOptions(cmd, { source: true, target: true, sourceFromTarget: true })
    .addOption(flag('target-from-source-url'))
    .addOption(flag('switch'))
    .addOption(flag('pgbouncer-ini'))
    .addOption(flag('pgbouncer-db'))
    .addOption(flag('pgbouncer-admin-url'))
    .addOption(flag('env-file'))
    .addOption(flag('env-key'))
    .addOption(flag('restart-command'))
    .addOption(flag('switch-command'))
    .addOption(flag('app-url'))
    .addOption(flag('max-lag'))
    .addOption(flag('max-freeze'))
    .addOption(flag('sequence-margin'))
    .addOption(flag('verify'))
    .addOption(flag('state-dir'));
}

export function buildSwitch(flags: SwitchFlags, ctx: CommandContext): Switch {
  switch (flagValue(flags, 'switch')) {
    case 'pgbouncer': {
      const [iniPath, dbEntry, adminUrl] = [flagText(flags, 'pgbouncer-ini'), flagText(flags, 'pgbouncer-db'), flags.pgbouncerAdminUrl];
      if (!iniPath || !dbEntry || !adminUrl) {
        throw usageError(
          '--switch pgbouncer needs --pgbouncer-ini, --pgbouncer-db and --pgbouncer-admin-url (or PGSHIFT_PGBOUNCER_ADMIN_URL)',
          'or choose --switch env-file | command | none',
        );
      }
      return makeSwitch({ kind: 'pgbouncer', adminUrl, iniPath, dbEntry, logger: ctx.log });
    }
    case 'env-file': {
      const path = flagText(flags, 'env-file');
      if (!path) throw usageError('--switch env-file needs --env-file');
      return makeSwitch({
        kind: 'env-file',
        path,
        key: flagValue(flags, 'env-key'),
        restartCommand: flagText(flags, 'restart-command'),
        logger: ctx.log,
      });
    }
    case 'command': {
      const command = flagText(flags, 'switch-command');
      if (!command) throw usageError('--switch command needs --switch-command');
      return makeSwitch({ kind: 'command', command, logger: ctx.log });
    }
    default:
      return makeSwitch({ kind: 'none', logger: ctx.log });
  }
}

export function switchoverOptions(flags: SwitchFlags, ctx: CommandContext): SwitchoverOptions {
  return {
    source: ctx.source(),
    target: ctx.target(),
    sourceFromTarget: ctx.sourceFromTarget(),
    targetFromSource: ctx.targetFromSource(),
    names: ctx.names,
    switch: buildSwitch(flags, ctx),
    maxLagBytes: flagValue(flags, 'max-lag'),
    maxFreezeMs: flagValue(flags, 'max-freeze'),
    sequenceMargin: flagValue(flags, 'sequence-margin'),
    finalVerify: flagValue(flags, 'verify'),
    onMismatch: flagValue(flags, 'on-mismatch'),
    appPath: flags.appUrl ? parseConnInfo(flags.appUrl, 'target', { caBundle: flags.caBundle }) : undefined,
    stateDir: stateDir(flagText(flags, 'state-dir')),
    ...enginesFrom(flags, ctx),
    log: ctx.log,
  };
}

/** An abort still prints its timeline (with --json, the whole document) before the one-line reason. */
function reportAbort(ctx: CommandContext, err: unknown): void {
  if (err instanceof SwitchoverAborted && ctx.opts.json) {
    process.stdout.write(
      `${JSON.stringify({ ok: false, aborted: err.oneLine(), writeFreezeMs: err.writeFreezeMs, steps: err.steps }, null, 2)}\n`,
    );
  }
}

/** cutover and rollback share their body: build the options, run, print; an abort still prints its timeline. */
function switchoverAction<R extends { ok: boolean }>(
  run: (opts: SwitchoverOptions, flags: SwitchFlags) => Promise<R>,
  render: (r: R) => string,
) {
  return action(async (flags: SwitchFlags) => {
    const ctx = makeContext(flags);
    // SIGINT/SIGTERM/SIGHUP abort the run: the engine undoes what it started, then we exit 1.
    const cancel = cancelOnSignals(ctx.log);
    try {
      const result = await run({ ...switchoverOptions(flags, ctx), signal: cancel.signal }, flags);
      emit(ctx, result, () => render(result));
      if (cancel.received()) ctx.log.warn(`${cancel.received()} arrived after the switch had begun: the switch was finished, not undone`);
      return result.ok && !cancel.received() ? 0 : 1;
    } catch (err) {
      reportAbort(ctx, err);
      throw err;
    }
  });
}

export function cutoverCommand(): Command {
  return addSwitchOptions(
    new Command('cutover').description('freeze writes, wait for zero lag, sync sequences, verify, turn replication around, switch, resume'),
  )
    .addOption(flag('on-mismatch'))
    .action(switchoverAction((opts) => runCutover(opts), renderSwitchover));
}

export function rollbackCommand(): Command {
  return addSwitchOptions(
    new Command('rollback').description('move the application back to the source; lossless while reverse replication runs'),
  )
    .addOption(flag('accept-data-loss'))
    .action(
      switchoverAction((opts, flags) => runRollback({ ...opts, acceptDataLoss: flagValue(flags, 'accept-data-loss') }), renderRollback),
    );
}
