import { Command } from 'commander';
import { runVerify } from '../../engine/verify/verify.js';
import { verifyExitCode } from '../../engine/verify/report.js';
import { withClient } from '../../postgres/connect.js';
import { catchUpWaiter } from '../../postgres/lsn.js';
import { readSlot } from '../../postgres/slot.js';
import { action, addConnectionOptions, emit, makeContext, type GlobalOptions } from '../context.js';
import { flag, flagValue } from '../flags.js';
import { renderVerify } from '../render.js';

export function verifyCommand(): Command {
  const cmd = new Command('verify').description(
    'compare source and target: counts (fast) or chunked checksums down to keys (full), sequences, schema',
  );
  addConnectionOptions(cmd)
    .addOption(flag('mode'))
    .addOption(flag('tables'))
    .addOption(flag('strict'))
    .addOption(flag('jobs'))
    .addOption(flag('max-keys'));
  return cmd.action(
    action(async (flags: GlobalOptions) => {
      const ctx = makeContext(flags);
      const source = ctx.source();
      // While CDC runs, a mismatch is re-checked once the target has applied past the source's position.
      const slot = await withClient(source, (c) => readSlot(c, ctx.names.slot));
      const report = await runVerify({
        source,
        target: ctx.target(),
        mode: flagValue(flags, 'mode')!,
        tables: flagValue(flags, 'tables'),
        strict: flagValue(flags, 'strict'),
        jobs: flagValue(flags, 'jobs'),
        maxKeysPerTable: flagValue(flags, 'max-keys'),
        waitForCatchUp: slot?.active ? catchUpWaiter(source, ctx.names.slot) : undefined,
        log: ctx.log,
      });
      emit(ctx, report, () => renderVerify(report));
      return verifyExitCode(report);
    }),
  );
}
