import { Command, Option } from 'commander';
import { runVerify } from '../../engine/verify/verify.js';
import { verifyExitCode } from '../../engine/verify/report.js';
import { withClient } from '../../postgres/connect.js';
import { catchUpWaiter } from '../../postgres/lsn.js';
import { readSlot } from '../../postgres/slot.js';
import { action, addConnectionOptions, emit, makeContext, type GlobalOptions } from '../context.js';
import { positiveInt } from '../options.js';
import { renderVerify } from '../render.js';

interface VerifyFlags extends GlobalOptions {
  mode: 'fast' | 'full';
  tables?: string[];
  strict?: boolean;
  jobs?: string;
  maxKeys?: string;
}

export function verifyCommand(): Command {
  const cmd = new Command('verify').description(
    'compare source and target: counts (fast) or chunked checksums down to keys (full), sequences, schema',
  );
  addConnectionOptions(cmd)
    .addOption(
      new Option('--mode <mode>', 'full: checksums, differing keys named; fast: exact row counts only')
        .choices(['fast', 'full'])
        .default('full'),
    )
    .addOption(new Option('--tables <patterns...>', 'schema.name patterns, * as wildcard'))
    .addOption(new Option('--strict', 'sequences behind and stale materialized views count as differences'))
    .addOption(new Option('--jobs <n>', 'parallel session pairs').default('2'))
    .addOption(new Option('--max-keys <n>', 'keys listed per table and category').default('20'));
  return cmd.action(
    action(async (flags: VerifyFlags) => {
      const ctx = makeContext(flags);
      const source = ctx.source();
      // While CDC runs, a mismatch is re-checked once the target has applied past the source's position.
      const slot = await withClient(source, (c) => readSlot(c, ctx.names.slot));
      const report = await runVerify({
        source,
        target: ctx.target(),
        mode: flags.mode,
        tables: flags.tables,
        strict: flags.strict,
        jobs: positiveInt(flags.jobs, '--jobs'),
        maxKeysPerTable: positiveInt(flags.maxKeys, '--max-keys'),
        waitForCatchUp: slot?.active ? catchUpWaiter(source, ctx.names.slot) : undefined,
        log: ctx.log,
      });
      emit(ctx, report, () => renderVerify(report));
      return verifyExitCode(report);
    }),
  );
}
