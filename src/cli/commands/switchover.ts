/** cutover and rollback: the same options (how to switch the application, bounds of the freeze). */
import { Command, Option } from 'commander';
import { runCutover } from '../../engine/cutover/cutover.js';
import { runRollback } from '../../engine/rollback/rollback.js';
import { stateDir } from '../../engine/cutover/state-file.js';
import { SwitchoverAborted, type SwitchoverOptions } from '../../engine/cutover/switchover.js';
import { usageError } from '../../errors.js';
import { cancelOnSignals } from '../../signals.js';
import { parseConnInfo } from '../../postgres/conninfo.js';
import { registerSecret } from '../../postgres/redact.js';
import { makeSwitch, type Switch } from '../../switch/switch.js';
import { action, addConnectionOptions, emit, makeContext, type CommandContext, type GlobalOptions } from '../context.js';
import { bytes, durationMs, positiveInt } from '../options.js';
import { addEngineOptions, enginesFrom, type EngineFlags } from '../engine-options.js';
import { renderRollback, renderSwitchover } from '../render.js';

export interface SwitchFlags extends GlobalOptions, EngineFlags {
  switch: 'pgbouncer' | 'env-file' | 'command' | 'none';
  pgbouncerIni?: string;
  pgbouncerDb?: string;
  pgbouncerAdmin?: string;
  envFile?: string;
  envKey?: string;
  restartCommand?: string;
  switchCommand?: string;
  appUrl?: string;
  targetFromSource?: string;
  maxLag: string;
  maxFreeze: string;
  sequenceMargin: string;
  verify: 'fast' | 'full' | 'none';
  stateDir?: string;
  acceptDataLoss?: boolean;
}

export function addSwitchOptions(cmd: Command): Command {
  addEngineOptions(cmd, { reverse: true });
  return addConnectionOptions(cmd, { source: true, target: true, sourceFromTarget: true })
    .addOption(
      new Option('--target-from-source <url>', 'how the source reaches the target for reverse replication (default: the target URL)').env(
        'PGSHIFT_TARGET_FROM_SOURCE_URL',
      ),
    )
    .addOption(
      new Option('--switch <kind>', 'how the application is moved')
        .choices(['pgbouncer', 'env-file', 'command', 'none'])
        .default('pgbouncer'),
    )
    .addOption(new Option('--pgbouncer-ini <path>', 'pgbouncer.ini whose entry is rewritten'))
    .addOption(new Option('--pgbouncer-db <entry>', 'the [databases] entry the application uses'))
    .addOption(new Option('--pgbouncer-admin <url>', 'admin console URL (PAUSE/RELOAD/RESUME)').env('PGSHIFT_PGBOUNCER_ADMIN_URL'))
    .addOption(new Option('--env-file <path>', 'env-file switch: file holding DATABASE_URL'))
    .addOption(new Option('--env-key <key>', 'env-file switch: the variable to rewrite').default('DATABASE_URL'))
    .addOption(new Option('--restart-command <cmd>', 'env-file switch: restarts the application after the rewrite'))
    .addOption(
      new Option('--switch-command <cmd>', 'command switch: your hook (gets PGSHIFT_NEW_HOST/PORT/DATABASE, and PGSHIFT_NEW_URL in env)'),
    )
    .addOption(
      new Option('--app-url <url>', "the application's own connection, for the post-check write (e.g. through PgBouncer)").env(
        'PGSHIFT_APP_URL',
      ),
    )
    .addOption(new Option('--max-lag <size>', 'refuse to freeze with more than this still to apply').default('16MB'))
    .addOption(new Option('--max-freeze <duration>', 'writes stay frozen at most this long, then everything is undone').default('30s'))
    .addOption(new Option('--sequence-margin <n>', 'increments added to every sequence on the new primary').default('1000'))
    .addOption(new Option('--verify <mode>', 'final check inside the freeze').choices(['fast', 'full', 'none']).default('fast'))
    .addOption(new Option('--state-dir <dir>', 'where freeze records are kept between cutover and rollback (default ~/.pgshift)'));
}

export function buildSwitch(flags: SwitchFlags, ctx: CommandContext): Switch {
  switch (flags.switch) {
    case 'pgbouncer': {
      if (!flags.pgbouncerIni || !flags.pgbouncerDb || !flags.pgbouncerAdmin) {
        throw usageError(
          '--switch pgbouncer needs --pgbouncer-ini, --pgbouncer-db and --pgbouncer-admin (or PGSHIFT_PGBOUNCER_ADMIN_URL)',
          'or choose --switch env-file | command | none',
        );
      }
      registerSecret(safePassword(flags.pgbouncerAdmin));
      return makeSwitch({
        kind: 'pgbouncer',
        adminUrl: flags.pgbouncerAdmin,
        iniPath: flags.pgbouncerIni,
        dbEntry: flags.pgbouncerDb,
        logger: ctx.log,
      });
    }
    case 'env-file':
      if (!flags.envFile) throw usageError('--switch env-file needs --env-file');
      return makeSwitch({
        kind: 'env-file',
        path: flags.envFile,
        key: flags.envKey,
        restartCommand: flags.restartCommand,
        logger: ctx.log,
      });
    case 'command':
      if (!flags.switchCommand) throw usageError('--switch command needs --switch-command');
      return makeSwitch({ kind: 'command', command: flags.switchCommand, logger: ctx.log });
    case 'none':
      return makeSwitch({ kind: 'none', logger: ctx.log });
  }
}

function safePassword(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

export function switchoverOptions(flags: SwitchFlags, ctx: CommandContext): SwitchoverOptions {
  if (flags.appUrl) registerSecret(safePassword(flags.appUrl));
  if (flags.targetFromSource) registerSecret(safePassword(flags.targetFromSource));
  return {
    source: ctx.source(),
    target: ctx.target(),
    sourceFromTarget: ctx.sourceFromTarget(),
    targetFromSource: flags.targetFromSource ? parseConnInfo(flags.targetFromSource, 'target', { caBundle: flags.caBundle }) : undefined,
    names: ctx.names,
    switch: buildSwitch(flags, ctx),
    maxLagBytes: bytes(flags.maxLag, '--max-lag'),
    maxFreezeMs: durationMs(flags.maxFreeze, '--max-freeze'),
    sequenceMargin: positiveInt(flags.sequenceMargin, '--sequence-margin'),
    finalVerify: flags.verify,
    appPath: flags.appUrl ? parseConnInfo(flags.appUrl, 'target', { caBundle: flags.caBundle }) : undefined,
    stateDir: stateDir(flags.stateDir),
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
  ).action(switchoverAction((opts) => runCutover(opts), renderSwitchover));
}

export function rollbackCommand(): Command {
  return addSwitchOptions(
    new Command('rollback').description('move the application back to the source; lossless while reverse replication runs'),
  )
    .addOption(
      new Option(
        '--accept-data-loss',
        'without reverse replication: switch back even though rows written on the target would be left behind',
      ),
    )
    .action(switchoverAction((opts, flags) => runRollback({ ...opts, acceptDataLoss: flags.acceptDataLoss }), renderRollback));
}
