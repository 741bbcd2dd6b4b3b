/** `pgshift status`: the whole migration in one read-only look; exit 1 when anything needs attention. */
import { Command, Option } from 'commander';
import { readStatus } from '../../engine/status/status.js';
import { postAlert, statusAlertLine } from '../../render/alert.js';
import { registerSecret } from '../../postgres/redact.js';
import { action, emit, makeContext } from '../context.js';
import { bytes } from '../options.js';
import { renderStatus } from '../render-status.js';
import { addSwitchOptions, buildSwitch, type SwitchFlags } from './switchover.js';

interface StatusFlags extends SwitchFlags {
  lagBound: string;
  warnRetained: string;
  maxRetained: string;
  alertWebhookUrl?: string;
}

export function statusCommand(): Command {
  return addSwitchOptions(
    new Command('status').description(
      'read-only: which server is primary, where the application points, replication both ways with lag, freeze records, slots and retained WAL, the next command',
    ),
  )
    .addOption(new Option('--lag-bound <size>', 'a running link further behind than this needs attention').default('256MB'))
    .addOption(new Option('--warn-retained <size>', 'retained WAL that warns').default('2GB'))
    .addOption(new Option('--max-retained <size>', 'retained WAL that is critical').default('10GB'))
    .addOption(
      new Option('--alert-webhook-url <url>', 'when something needs attention, post one line here (Slack-compatible JSON)').env(
        'PGSHIFT_ALERT_WEBHOOK_URL',
      ),
    )
    .action(
      action(async (flags: StatusFlags) => {
        const ctx = makeContext(flags);
        if (flags.alertWebhookUrl) registerSecret(flags.alertWebhookUrl);
        // The application's path is read when the switch is fully described; status works with the URLs alone.
        let sw: ReturnType<typeof buildSwitch> | undefined;
        try {
          sw = flags.switch === 'none' ? undefined : buildSwitch(flags, ctx);
        } catch {
          ctx.log.info(`--switch ${flags.switch} is not fully described: the application's path is not read`);
        }
        const status = await readStatus({
          source: ctx.source(),
          target: ctx.target(),
          names: ctx.names,
          switch: sw,
          maxLagBytes: bytes(flags.lagBound, '--lag-bound'),
          warnRetainedBytes: bytes(flags.warnRetained, '--warn-retained'),
          maxRetainedBytes: bytes(flags.maxRetained, '--max-retained'),
        });
        emit(ctx, status, () => renderStatus(status));
        if (status.verdict !== 'ok' && flags.alertWebhookUrl) {
          const sent = await postAlert(flags.alertWebhookUrl, statusAlertLine(status));
          if (!sent.ok) ctx.log.warn(`the alert webhook did not take the alert: ${sent.error}`);
        }
        return status.verdict === 'ok' ? 0 : 1;
      }),
    );
}
