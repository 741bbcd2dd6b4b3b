/**
 * Action adapter for `status` (the watch workflow, every 10 minutes during the migration window):
 * the job summary shows lag and retained WAL; the step fails when something needs attention, and
 * then posts one line to alert-webhook-url when given.
 */
import { readStatus } from '../../../src/engine/status/status.js';
import { migrationNames } from '../../../src/engine/names.js';
import { postAlert, statusAlertLine } from '../../../src/render/alert.js';
import { connectionsFromInputs } from '../../common/connections.js';
import { input, inputText, requiredOption } from '../../common/inputs.js';
import { actionsLogger, group } from '../../common/logger.js';
import { runPhaseAction, type PhaseOutcome } from '../../common/run.js';
import { renderStatusMarkdown } from '../../common/summaries/status.js';
import { switchFromInputs } from '../../common/switch.js';

async function run(): Promise<PhaseOutcome> {
  const log = actionsLogger();
  const connections = await connectionsFromInputs();
  const sw = requiredOption('switch') === 'none' ? undefined : switchFromInputs(log);
  const st = await group('status', () =>
    readStatus({
      source: connections.source,
      target: connections.target,
      names: migrationNames(input('name')!),
      switch: sw,
      maxLagBytes: input('lag-bound'),
      warnRetainedBytes: input('warn-retained'),
      maxRetainedBytes: input('max-retained'),
    }),
  );
  const webhook = inputText('alert-webhook-url');
  if (st.verdict !== 'ok' && webhook) {
    const sent = await postAlert(webhook, statusAlertLine(st));
    if (!sent.ok) log.warn(`the alert webhook did not take the alert: ${sent.error}`);
  }
  return {
    report: st,
    outputs: { verdict: st.verdict, primary: st.primary, next: st.next },
    summary: renderStatusMarkdown(st),
    annotations: st.findings.map((f) => ({
      level: f.level === 'critical' ? 'error' : 'warning',
      title: `status ${f.level}`,
      message: f.message,
    })),
    failure: st.verdict === 'ok' ? undefined : statusAlertLine(st),
  };
}

await runPhaseAction({ phase: 'status', title: 'status', run });
