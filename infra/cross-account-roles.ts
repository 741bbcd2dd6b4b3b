// Who is who across the two accounts: the roles bootstrap-target-account creates in B, and A's roles that
// may assume them. One place, because B's trust policies, B's KMS key policy and A's grants must agree.
import type { InfraConfig } from './config.js';
import type { CrossAccountConfig } from './cross-account-config.js';
import { ROLE_NAMES } from './stacks/bootstrap.js';

/** Role names in account B (account A's bootstrap uses the same plan/apply names; the ARNs differ by account). */
export const TARGET_ROLE_NAMES = {
  plan: 'pgshift-infra-plan',
  apply: 'pgshift-infra-apply',
  /** The pgshift runner's lookups in B: RDS endpoint, master secret, pre-cutover snapshot. */
  runnerReader: 'pgshift-runner-reader',
} as const;

export function roleArn(accountId: string, name: string): string {
  return `arn:aws:iam::${accountId}:role/${name}`;
}

export function targetRoleArns(x: CrossAccountConfig): { plan: string; apply: string; runnerReader: string } {
  return {
    plan: roleArn(x.targetAccountId, TARGET_ROLE_NAMES.plan),
    apply: roleArn(x.targetAccountId, TARGET_ROLE_NAMES.apply),
    runnerReader: roleArn(x.targetAccountId, TARGET_ROLE_NAMES.runnerReader),
  };
}

/** The experiment's source host role in A (created by stack 02; SourceHost names it `<name>-source`). */
export function experimentSourceHostRoleName(x: CrossAccountConfig): string {
  return `${x.experiment.name}-source`;
}

/**
 * A's roles that run pgshift and so read B's endpoint, secret and snapshots: the migration workflows' OIDC
 * role, the experiment's source host instance role, and any extra role from the config (v1's EC2 role).
 */
export function runnerRoleArns(x: CrossAccountConfig): string[] {
  return [
    roleArn(x.sourceAccountId, ROLE_NAMES.migration),
    roleArn(x.sourceAccountId, experimentSourceHostRoleName(x)),
    ...x.runnerRoleArns,
  ];
}

/** Name prefixes of what the cross-account stacks create, for the apply roles' IAM and KMS name patterns. */
export function crossAccountNamePrefixes(config: InfraConfig): string[] {
  const x = config.crossAccount;
  if (x === undefined) return [];
  return [x.experiment.name, ...(x.production ? [x.production.name] : [])].map((n) => `${n}-`);
}
