/** `pgshift recover`: after a killed cutover or rollback, one consistent primary with writes flowing. */
import { Command } from 'commander';
import { runRecover } from '../../engine/recover/recover.js';
import { action, emit, makeContext } from '../context.js';
import { flag, flagValue } from '../flags.js';
import { renderRecover } from '../render-status.js';
import { addSwitchOptions, switchoverOptions, type SwitchFlags } from './switchover.js';

export function recoverCommand(): Command {
  return addSwitchOptions(
    new Command('recover').description(
      'after a killed cutover or rollback: undo it if the switch had not happened, finish it if it had (reads what the servers record; needs no state directory)',
    ),
  )
    .addOption(flag('dry-run'))
    .addOption(flag('primary'))
    .action(
      action(async (flags: SwitchFlags) => {
        const ctx = makeContext(flags);
        const o = switchoverOptions(flags, ctx);
        const result = await runRecover({ ...o, dryRun: flagValue(flags, 'dry-run'), primary: flagValue(flags, 'primary'), log: ctx.log });
        emit(ctx, result, () => renderRecover(result));
        return result.ok ? 0 : 1;
      }),
    );
}
