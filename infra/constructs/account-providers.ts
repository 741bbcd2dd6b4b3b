// Two AWS accounts in one stack: `aws.source` (account A, the credentials the workflow already has) and
// `aws.target` (account B, reached by assuming a role in B). Every peering piece needs ids from both sides;
// two stacks joined by a cross-stack reference would need two applies in a fixed order, and infra-apply
// applies exactly one reviewed saved plan per stack.
import { type TerraformStack, TerraformDataSource, TerraformResource, TerraformVariable } from 'cdktf';
import type { Construct } from 'constructs';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider/index.js';
import type { InfraConfig } from '../config.js';

/** The variable that carries B's role ARN. The workflows pass it with `-var target_role_arn=…`. */
export const TARGET_ROLE_VARIABLE = 'target_role_arn';

/**
 * B's role ARN as an ephemeral variable (Terraform >= 1.10): Terraform keeps it out of the saved plan and
 * asks for it again at apply. So the plan job passes B's read-only role, the apply job B's apply role,
 * and the synthesized JSON (which the apply guard compares byte for byte) is the same for both.
 * cdktf 0.21 predates ephemeral variables, hence the override.
 */
export function targetRoleVariable(stack: TerraformStack, targetAccountId: string, id = TARGET_ROLE_VARIABLE): TerraformVariable {
  const variable = new TerraformVariable(stack, id, {
    type: 'string',
    nullable: false,
    description: `A role in account B (${targetAccountId}) that Terraform assumes for every aws.target resource: the read-only plan role when planning, the apply role when applying`,
    validation: [
      {
        condition: `\${can(regex("^arn:aws[a-z-]*:iam::${targetAccountId}:role/", var.${id}))}`,
        errorMessage: `${id} must be a role ARN in account B (${targetAccountId}).`,
      },
    ],
  });
  variable.overrideLogicalId(id);
  stack.addOverride(`variable.${id}.ephemeral`, true);
  return variable;
}

export interface AccountProviders {
  source: AwsProvider;
  target: AwsProvider;
}

export function accountProviders(
  stack: TerraformStack,
  config: InfraConfig,
  accounts: { source: string; target: string },
  tags: Record<string, string>,
): AccountProviders {
  const role = targetRoleVariable(stack, accounts.target);
  const defaultTags = (account: string) => [{ tags: { ...config.tags, ...tags, Account: account, ManagedBy: 'pgshift-infra' } }];
  return {
    // allowed_account_ids on both: credentials for the wrong account fail the plan before anything is read.
    source: new AwsProvider(stack, 'aws-source', {
      alias: 'source',
      region: config.region,
      allowedAccountIds: [accounts.source],
      defaultTags: defaultTags(accounts.source),
    }),
    target: new AwsProvider(stack, 'aws-target', {
      alias: 'target',
      region: config.region,
      allowedAccountIds: [accounts.target],
      // A chained session (A's role -> B's role) lasts at most one hour; the provider assumes the role again
      // when it runs out, as long as A's own session (the workflow's first role) still lives.
      assumeRole: [{ roleArn: role.stringValue, sessionName: 'pgshift-infra' }],
      defaultTags: defaultTags(accounts.target),
    }),
  };
}

/**
 * Names `provider` on every resource and data source under `scope` that has none yet. With two aliased
 * providers there is no default one: a resource without a provider would silently use an unconfigured
 * `aws` provider, so the stacks build each account's part in its own scope and hand it its provider here.
 */
export function useProvider(scope: Construct, provider: AwsProvider): void {
  for (const node of scope.node.findAll()) {
    if ((node instanceof TerraformResource || node instanceof TerraformDataSource) && node.provider === undefined) node.provider = provider;
  }
}
