/** `pgshift recover`: after a killed cutover or rollback, one consistent primary with writes flowing. */
import { Command, Option } from 'commander';
import { runRecover } from '../../engine/recover/recover.js';
import { action, emit, makeContext } from '../context.js';
import { renderRecover } from '../render-status.js';
import { addSwitchOptions, switchoverOptions, type SwitchFlags } from './switchover.js';

export function recoverCommand(): Command {
  return addSwitchOptions(
    new Command('recover').description(
      'after a killed cutover or rollback: undo it if the switch had not happened, finish it if it had (reads what the servers record; needs no state directory)',
    ),
  )
    .addOption(new Option('--dry-run', 'say what would be done, change nothing'))
    .action(
      action(async (flags: SwitchFlags & { dryRun?: boolean }) => {
        const ctx = makeContext(flags);
        const o = switchoverOptions(flags, ctx);
        const result = await runRecover({ ...o, dryRun: flags.dryRun, log: ctx.log });
        emit(ctx, result, () => renderRecover(result));
        return result.ok ? 0 : 1;
      }),
    );
}
