// The pull-request comment of a cross-account stack names the account every change lands in.
import { describe, expect, it } from 'vitest';
import { COMMENT_BUDGET, renderPlanReport, resourceAccounts, textBudget, type PlanJson } from '../../infra/ci/plan-report.js';

// The shape `terraform show -json` gives (configuration.provider_config / root_module.resources), trimmed.
const plan: PlanJson = {
  resource_changes: [
    { address: 'aws_vpc_peering_connection.peering_requester_1', change: { actions: ['create'] } },
    { address: 'aws_vpc_peering_connection_accepter.peering_accepter_2', change: { actions: ['create'] } },
    { address: 'aws_db_instance.account-b_target_rds_db_3', change: { actions: ['delete', 'create'] } },
    { address: 'aws_route.peering_source-route_4[0]', change: { actions: ['create'] } },
    { address: 'aws_vpc.account-a_vpc_5', change: { actions: ['no-op'] } },
  ],
  configuration: {
    provider_config: {
      'aws.source': { alias: 'source', expressions: { allowed_account_ids: { constant_value: ['123456789012'] } } },
      'aws.target': { alias: 'target', expressions: { allowed_account_ids: { constant_value: ['210987654321'] } } },
    },
    root_module: {
      resources: [
        { address: 'aws_vpc_peering_connection.peering_requester_1', provider_config_key: 'aws.source' },
        { address: 'aws_vpc_peering_connection_accepter.peering_accepter_2', provider_config_key: 'aws.target' },
        { address: 'aws_db_instance.account-b_target_rds_db_3', provider_config_key: 'aws.target' },
        { address: 'aws_route.peering_source-route_4', provider_config_key: 'aws.source' },
        { address: 'aws_vpc.account-a_vpc_5', provider_config_key: 'aws.source' },
      ],
    },
  },
};

describe('plan report of a cross-account stack', () => {
  it("maps every resource to its provider's pinned account", () => {
    const accounts = resourceAccounts(plan);
    expect(accounts.get('aws_db_instance.account-b_target_rds_db_3')).toBe('210987654321 (`aws.target`)');
    expect(accounts.get('aws_vpc_peering_connection.peering_requester_1')).toBe('123456789012 (`aws.source`)');
  });

  it('lists each change with its account (instances of counted resources too), skipping no-ops', () => {
    const md = renderPlanReport({ stack: '02-cross-account-peering', plan, text: 'plan text', stacks: 4 });
    expect(md).toContain('| account | resource | action |');
    expect(md).toContain('| 210987654321 (`aws.target`) | `aws_db_instance.account-b_target_rds_db_3` | delete, create |');
    expect(md).toContain('| 123456789012 (`aws.source`) | `aws_route.peering_source-route_4[0]` | create |');
    expect(md).not.toContain('aws_vpc.account-a_vpc_5');
    // The replaced database is still called out above the table.
    expect(md.indexOf('CAUTION')).toBeLessThan(md.indexOf('| account |'));
  });

  it('adds no table to a single-account stack', () => {
    const single: PlanJson = {
      resource_changes: [{ address: 'aws_vpc.x', change: { actions: ['create'] } }],
      configuration: { provider_config: { aws: {} }, root_module: { resources: [{ address: 'aws_vpc.x', provider_config_key: 'aws' }] } },
    };
    expect(resourceAccounts(single).size).toBe(0);
    expect(renderPlanReport({ stack: '01-single-vpc-rds', plan: single, text: 't' })).not.toContain('| account |');
  });

  it('shares the comment between all planned stacks: five long plans still fit in one comment', () => {
    const long = 'x'.repeat(100_000);
    const reports = ['01', '02', '02p', '03', 'production'].map((stack) => renderPlanReport({ stack, plan, text: long, stacks: 5 }));
    expect(reports.join('\n').length).toBeLessThan(COMMENT_BUDGET);
    expect(textBudget(5)).toBe(10_000);
  });
});
