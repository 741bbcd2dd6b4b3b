/**
 * What issue 10 asks of the workflows, read from the YAML: cutover and rollback end with a
 * recover step that runs when they were cancelled or failed; recover.yml is dispatched by hand
 * and gated like rollback; watch.yml runs every 10 minutes on the source runner, only while the
 * repository variable is on, and hands the webhook secret to the status action.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';

const dir = join(import.meta.dirname, '..', '..', '.github', 'workflows');
const load = (f: string) => YAML.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, any>;
const on = (wf: Record<string, any>) => wf.on ?? wf[true as unknown as string];

describe('recover and watch workflows', () => {
  it.each(['cutover.yml', 'rollback.yml'])(
    '%s: recover runs after the phase when it was cancelled or failed, with the same switch',
    (file) => {
      const wf = load(file);
      const job = Object.values<any>(wf.jobs)[0];
      const steps: any[] = job.steps;
      const phase = steps.findIndex((s) => s.uses === `./actions/${file.replace('.yml', '')}`);
      const recover = steps.findIndex((s) => s.uses === './actions/recover');
      expect(recover).toBeGreaterThan(phase);
      expect(steps[recover].if).toBe('cancelled() || failure()');
      for (const k of ['source-url', 'target-url', 'name', 'switch', 'pgbouncer-ini', 'pgbouncer-db', 'pgbouncer-admin-url', 'state-dir'])
        expect(steps[recover].with[k], k).toBe(steps[phase].with[k]);
    },
  );

  it('recover.yml: dispatched by hand, dry run by default, gated by the rollback reviewers', () => {
    const wf = load('recover.yml');
    expect(on(wf).workflow_dispatch.inputs['dry-run'].default).toBe(true);
    expect(wf.jobs.recover.environment).toBe('${{ inputs.environment }}-rollback');
    expect(wf.jobs.recover.steps.at(-1).uses).toBe('./actions/recover');
    expect(wf.concurrency.group).toBe('pgshift-${{ inputs.environment }}');
  });

  it('watch.yml: every 10 minutes on the source runner, only while PGSHIFT_WATCH is on, webhook from a secret', () => {
    const wf = load('watch.yml');
    expect(on(wf).schedule).toEqual([{ cron: '*/10 * * * *' }]);
    const job = wf.jobs.watch;
    expect(job.if).toBe("vars.PGSHIFT_WATCH == 'on'");
    expect(job['runs-on']).toEqual(['self-hosted', 'linux', 'pgshift-source']);
    const status = job.steps.find((s: any) => s.uses === './actions/status');
    expect(status.with['alert-webhook-url']).toBe('${{ secrets.PGSHIFT_ALERT_WEBHOOK_URL }}');
    expect(wf.concurrency.group).not.toBe('pgshift-${{ inputs.environment }}');
  });
});
