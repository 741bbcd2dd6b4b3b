import { Command, Option } from 'commander';
import { DEFAULT_WAIT_FOR_TRANSACTIONS, runFullLoad } from '../../engine/full-load/full-load.js';
import { runDumpRestore } from '../../engine/full-load/dump-restore.js';
import { cancelOnSignals } from '../../signals.js';
import { usageError } from '../../errors.js';
import { durationMs } from '../options.js';
import { renderFullLoad } from '../render.js';
import { action, addConnectionOptions, emit, makeContext, type GlobalOptions } from '../context.js';
import { addEngineOptions, type EngineFlags } from '../engine-options.js';

interface FullLoadFlags extends GlobalOptions, Pick<EngineFlags, 'engine'> {
  jobs?: string;
  clean?: boolean;
  strategy: 'snapshot-copy' | 'dump-restore';
  pgBinDir?: string;
  pgDumpPrefix?: string;
  waitForTransactions: string;
}

export function fullLoadCommand(): Command {
  const cmd = new Command('full-load').description("copy schema and data to the empty target inside a new replication slot's snapshot");
  addEngineOptions(addConnectionOptions(cmd), { dmsApi: false })
    .addOption(new Option('--jobs <n>', 'parallel copy workers (default: number of cores)'))
    .addOption(
      new Option(
        '--clean',
        'drop what an earlier attempt with this --name left: its inactive slot and publication on the source, the tables on the target (refused while CDC runs)',
      ),
    )
    .addOption(
      new Option(
        '--wait-for-transactions <duration>',
        'how long the slot may wait for open transactions on the source (named every 10 s) before full-load gives up',
      ).default(DEFAULT_WAIT_FOR_TRANSACTIONS),
    )
    .addOption(
      new Option('--strategy <s>', "snapshot-copy (online, for CDC) or dump-restore (the plan's pg_dump -Fc + pg_restore, offline)")
        .choices(['snapshot-copy', 'dump-restore'])
        .default('snapshot-copy'),
    )
    .addOption(new Option('--pg-bin-dir <dir>', 'directory with pg_dump/pg_restore at least as new as the source'))
    .addOption(
      new Option('--pg-dump-prefix <words>', "run pg_dump through a prefix, e.g. 'docker exec -i -e PGPASSWORD tasteam-postgres'"),
    );
  return cmd.action(
    action(async (flags: FullLoadFlags) => {
      const ctx = makeContext(flags);
      const jobs = flags.jobs === undefined ? undefined : Number(flags.jobs);
      if (jobs !== undefined && (!Number.isInteger(jobs) || jobs < 1))
        throw usageError(`--jobs must be a positive integer, got '${flags.jobs}'`);
      const waitForTransactionsMs = durationMs(flags.waitForTransactions, '--wait-for-transactions');
      const pgTools = { binDir: flags.pgBinDir, commandPrefix: flags.pgDumpPrefix?.split(/\s+/).filter(Boolean) };
      const common = { source: ctx.source(), target: ctx.target(), jobs, clean: flags.clean, pgTools, log: ctx.log };
      if (flags.engine === 'dms' && flags.strategy === 'dump-restore')
        throw usageError(
          '--engine dms needs --strategy snapshot-copy',
          'DMS continues from the slot full-load makes; dump-restore makes none',
        );
      // The engine only decides the slot's plugin: DMS reads test_decoding, a subscription pgoutput.
      const slotPlugin = flags.engine === 'dms' ? 'test_decoding' : 'pgoutput';
      // SIGINT/SIGTERM/SIGHUP: the run drops what it made, then exits 1 (docs/design.md rule 12).
      const cancel = cancelOnSignals(ctx.log);
      const result =
        flags.strategy === 'dump-restore'
          ? await runDumpRestore({ ...common, signal: cancel.signal })
          : await runFullLoad({ ...common, names: ctx.names, waitForTransactionsMs, slotPlugin, signal: cancel.signal });
      emit(ctx, result, () => renderFullLoad(result));
      return 0;
    }),
  );
}
