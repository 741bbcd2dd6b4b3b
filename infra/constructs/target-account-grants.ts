// Account A's half of the cross-account trust: B's roles trust A's roles by ARN (bootstrap-target-account),
// and A's roles must in turn be allowed to assume them. Added to A's bootstrap roles only when the
// configuration has a `crossAccount` section.
import type { Construct } from 'constructs';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy/index.js';
import type { IamRole } from '@cdktf/provider-aws/lib/iam-role/index.js';
import type { CrossAccountConfig } from '../cross-account-config.js';
import { targetRoleArns } from '../cross-account-roles.js';
import { policyDocument } from './policy.js';

export function grantTargetAccountRoles(
  scope: Construct,
  x: CrossAccountConfig | undefined,
  roles: { plan: IamRole; apply: IamRole; migration: IamRole },
): void {
  if (x === undefined) return;
  const b = targetRoleArns(x);
  // sts:TagSession as well: configure-aws-credentials with role-chaining tags the chained session.
  const assume = (scopeId: string, role: IamRole, target: string | string[]): void => {
    new IamRolePolicy(scope, scopeId, {
      name: 'assume-target-account',
      role: role.id,
      policy: policyDocument([
        { Sid: 'AssumeRoleInAccountB', Effect: 'Allow', Action: ['sts:AssumeRole', 'sts:TagSession'], Resource: target },
      ]),
    });
  };
  assume('plan-assumes-target-plan', roles.plan, b.plan);
  // infra-destroy plans the destroy with the plan role and applies it with the apply role; infra-apply
  // only applies. Neither ever needs the other account's apply role from the plan role.
  assume('apply-assumes-target-apply', roles.apply, b.apply);
  assume('migration-assumes-target-reader', roles.migration, b.runnerReader);
}
