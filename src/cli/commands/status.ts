/** `pgshift status`: the whole migration in one read-only look; exit 1 when anything needs attention. */
import { Command } from 'commander';
import { readStatus } from '../../engine/status/status.js';
import { postAlert, statusAlertLine } from '../../render/alert.js';
import { action, emit, makeContext } from '../context.js';
import { flag, flagText, flagValue } from '../flags.js';
import { renderStatus } from '../render-status.js';
import { addSwitchOptions, buildSwitch, type SwitchFlags } from './switchover.js';

export function statusCommand(): Command {
  return addSwitchOptions(
    new Command('status').description(
      'read-only: which server is primary, where the application points, replication both ways with lag, freeze records, slots and retained WAL, the next command',
    ),
  )
    .addOption(flag('lag-bound'))
    .addOption(flag('warn-retained'))
    .addOption(flag('max-retained'))
    .addOption(flag('alert-webhook-url'))
    .action(
      action(async (flags: SwitchFlags) => {
        const ctx = makeContext(flags);
        const webhook = flagText(flags, 'alert-webhook-url');
        // The application's path is read when the switch is fully described; status works with the URLs alone.
        let sw: ReturnType<typeof buildSwitch> | undefined;
        try {
          sw = flagValue(flags, 'switch') === 'none' ? undefined : buildSwitch(flags, ctx);
        } catch {
          ctx.log.info(`--switch ${flagValue(flags, 'switch')} is not fully described: the application's path is not read`);
        }
        const status = await readStatus({
          source: ctx.source(),
          target: ctx.target(),
          names: ctx.names,
          switch: sw,
          maxLagBytes: flagValue(flags, 'lag-bound'),
          warnRetainedBytes: flagValue(flags, 'warn-retained'),
          maxRetainedBytes: flagValue(flags, 'max-retained'),
        });
        emit(ctx, status, () => renderStatus(status));
        if (status.verdict !== 'ok' && webhook) {
          const sent = await postAlert(webhook, statusAlertLine(status));
          if (!sent.ok) ctx.log.warn(`the alert webhook did not take the alert: ${sent.error}`);
        }
        return status.verdict === 'ok' ? 0 : 1;
      }),
    );
}
