// The two scripts the infrastructure workflows run around Terraform: the reviewer's plan report and the
// apply guard's comparison (its end-to-end run on a real saved plan is in terraform.test.ts).
import { describe, expect, it } from 'vitest';
import { renderPlanReport, summarizePlan, TEXT_BUDGET, type PlanJson } from '../../infra/ci/plan-report.js';
import { planProblems, stateIdentity } from '../../infra/ci/check-plan.js';

const change = (address: string, ...actions: string[]) => ({ address, change: { actions } });

describe('plan report', () => {
  const plan: PlanJson = {
    resource_changes: [
      change('aws_vpc.network_vpc', 'create'),
      change('aws_security_group.target_sg', 'update'),
      change('aws_db_instance.target_db', 'delete', 'create'),
      change('aws_eip.source_eip', 'delete'),
      change('aws_subnet.public', 'no-op'),
    ],
  };

  it('counts like terraform does: a replacement is one add and one destroy', () => {
    expect(summarizePlan(plan)).toEqual({
      add: 2,
      change: 1,
      destroy: 2,
      destructive: [
        { address: 'aws_db_instance.target_db', how: 'replace' },
        { address: 'aws_eip.source_eip', how: 'destroy' },
      ],
    });
  });

  it('puts what gets deleted in front of the reviewer, then the full plan folded', () => {
    const md = renderPlanReport({
      stack: '01-single-vpc-rds',
      plan,
      text: 'Plan: 2 to add, 1 to change, 2 to destroy.\n',
      commit: '0123456789abcdef0123',
    });
    expect(md).toContain('### `01-single-vpc-rds`: 2 to add, 1 to change, 2 to destroy');
    expect(md).toContain('Planned from `0123456789ab`.');
    expect(md).toContain('> [!CAUTION]');
    expect(md).toContain('> - `aws_db_instance.target_db` (replace)');
    expect(md).toContain('<details><summary>terraform plan</summary>\n\n```text\nPlan: 2 to add, 1 to change, 2 to destroy.\n```');
  });

  it('says "no changes" without a warning when nothing changes', () => {
    const md = renderPlanReport({ stack: 'production', plan: { resource_changes: [change('aws_vpc.x', 'no-op')] }, text: 'No changes.' });
    expect(md.split('\n')[0]).toBe('### `production`: no changes');
    expect(md).not.toContain('CAUTION');
  });

  it('cuts a long plan to its share of the comment, and a fence in the plan cannot close the block', () => {
    const md = renderPlanReport({ stack: 's', plan: {}, text: `${'x'.repeat(TEXT_BUDGET + 500)}` });
    expect(md.length).toBeLessThan(TEXT_BUDGET + 500);
    expect(md).toContain('cut at 18000 characters');
    const fenced = renderPlanReport({ stack: 's', plan: {}, text: 'user_data = <<EOT\n```\nEOT' });
    expect(fenced).toContain('````text\n');
  });
});

describe('apply guard comparison', () => {
  const config = '{"resource":{}}';
  const plan = { state: { serial: 4, lineage: 'abc' }, config: new Map([['cdk.tf.json', config]]) };

  it('a missing state is serial 0 without lineage, like a plan made against nothing', () => {
    expect(stateIdentity('')).toEqual({ serial: 0, lineage: '' });
    expect(stateIdentity('{"serial": 7, "lineage": "x", "resources": []}')).toEqual({ serial: 7, lineage: 'x' });
  });

  it('passes only with the same configuration and the same state serial and lineage', () => {
    expect(planProblems({ plan, currentConfig: config, currentState: { serial: 4, lineage: 'abc' } })).toEqual([]);
    expect(planProblems({ plan, currentConfig: config, currentState: { serial: 5, lineage: 'abc' } })).toEqual([
      expect.stringMatching(/^the state moved since the plan \(serial 4 -> 5\)/),
    ]);
    expect(planProblems({ plan, currentConfig: config, currentState: { serial: 4, lineage: 'other' } })).toEqual([
      expect.stringMatching(/different lineage/),
    ]);
    expect(planProblems({ plan, currentConfig: '{"resource":{"x":1}}', currentState: { serial: 4, lineage: 'abc' } })).toEqual([
      expect.stringMatching(/differs from the one that was planned and reviewed/),
    ]);
    expect(planProblems({ plan: { ...plan, config: new Map() }, currentConfig: config, currentState: plan.state })).toEqual([
      expect.stringMatching(/holds no cdk\.tf\.json/),
    ]);
  });
});
