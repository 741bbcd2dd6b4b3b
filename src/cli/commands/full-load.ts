import { Command } from 'commander';
import { runDumpRestore } from '../../engine/full-load/dump-restore.js';
import { runFullLoad } from '../../engine/full-load/full-load.js';
import { cancelOnSignals } from '../../signals.js';
import { usageError } from '../../errors.js';
import { action, addConnectionOptions, emit, makeContext, type GlobalOptions } from '../context.js';
import { addEngineOptions } from '../engine-options.js';
import { flag, flagText, flagValue } from '../flags.js';
import { renderFullLoad } from '../render.js';

export function fullLoadCommand(): Command {
  const cmd = new Command('full-load').description("copy schema and data to the empty target inside a new replication slot's snapshot");
  addEngineOptions(addConnectionOptions(cmd), { dmsApi: false })
    .addOption(flag('jobs'))
    .addOption(flag('clean'))
    .addOption(flag('wait-for-transactions'))
    .addOption(flag('load-strategy'))
    .addOption(flag('pg-bin-dir'))
    .addOption(flag('pg-command-prefix'));
  return cmd.action(
    action(async (flags: GlobalOptions) => {
      const ctx = makeContext(flags);
      const jobs = flagValue(flags, 'jobs');
      if (jobs === 0) throw usageError('--jobs must be at least 1');
      const pgTools = {
        binDir: flagText(flags, 'pg-bin-dir'),
        commandPrefix: flagText(flags, 'pg-command-prefix')?.split(/\s+/).filter(Boolean),
      };
      const common = { source: ctx.source(), target: ctx.target(), jobs, clean: flagValue(flags, 'clean'), pgTools, log: ctx.log };
      const strategy = flagValue(flags, 'load-strategy');
      const engine = flagValue(flags, 'engine');
      if (engine === 'dms' && strategy === 'dump-restore')
        throw usageError(
          '--engine dms needs --load-strategy snapshot-copy',
          'DMS continues from the slot full-load makes; dump-restore makes none',
        );
      // The engine only decides the slot's plugin: DMS reads test_decoding, a subscription pgoutput.
      const slotPlugin = engine === 'dms' ? 'test_decoding' : 'pgoutput';
      // SIGINT/SIGTERM/SIGHUP: the run drops what it made, then exits 1 (docs/design.md rule 12).
      const cancel = cancelOnSignals(ctx.log);
      const result =
        strategy === 'dump-restore'
          ? await runDumpRestore({ ...common, signal: cancel.signal })
          : await runFullLoad({
              ...common,
              names: ctx.names,
              waitForTransactionsMs: flagValue(flags, 'wait-for-transactions'),
              slotPlugin,
              signal: cancel.signal,
            });
      emit(ctx, result, () => renderFullLoad(result));
      return 0;
    }),
  );
}
