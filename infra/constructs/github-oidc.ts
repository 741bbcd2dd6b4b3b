// GitHub Actions -> AWS without long-lived keys: the account trusts GitHub's OIDC issuer, and each role
// trusts only exact subjects `repo:<owner>/<name>:environment:<env>` of this repository. A job gets a role
// only by running in one of those environments, so the environments' protection rules (required
// reviewers, branch rules) become the gate in front of AWS as well.
import { Construct } from 'constructs';
import { IamOpenidConnectProvider } from '@cdktf/provider-aws/lib/iam-openid-connect-provider/index.js';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role/index.js';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy/index.js';
import { IamRolePolicyAttachment } from '@cdktf/provider-aws/lib/iam-role-policy-attachment/index.js';
import { policyDocument, type PolicyStatement } from './policy.js';

export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';

export function environmentSubjects(repository: string, environments: string[]): string[] {
  return environments.map((env) => `repo:${repository}:environment:${env}`);
}

export class GitHubOidcProvider extends Construct {
  readonly arn: string;

  constructor(scope: Construct, id: string, existingArn?: string) {
    super(scope, id);
    if (existingArn !== undefined) {
      // An account has one provider per issuer URL; a second stack creating it would fail.
      this.arn = existingArn;
      return;
    }
    // No thumbprint: AWS verifies GitHub's issuer through its own trusted CAs (provider 5.x makes the list optional).
    this.arn = new IamOpenidConnectProvider(this, 'provider', {
      url: `https://${GITHUB_OIDC_HOST}`,
      clientIdList: ['sts.amazonaws.com'],
    }).arn;
  }
}

export interface WorkflowRoleProps {
  name: string;
  description: string;
  providerArn: string;
  repository: string;
  environments: string[];
  managedPolicyArns?: string[];
  /** Seconds; default one hour. */
  maxSessionDuration?: number;
  inlinePolicies: Record<string, PolicyStatement[]>;
}

export class WorkflowRole extends Construct {
  readonly role: IamRole;

  constructor(scope: Construct, id: string, props: WorkflowRoleProps) {
    super(scope, id);
    this.role = new IamRole(this, 'role', {
      name: props.name,
      description: props.description,
      maxSessionDuration: props.maxSessionDuration ?? 3600,
      assumeRolePolicy: policyDocument([
        {
          Effect: 'Allow',
          Principal: { Federated: props.providerArn },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: {
            // Exact matches, no wildcards: another repository, a branch or a pull request cannot match.
            StringEquals: {
              [`${GITHUB_OIDC_HOST}:aud`]: 'sts.amazonaws.com',
              [`${GITHUB_OIDC_HOST}:sub`]: environmentSubjects(props.repository, props.environments),
            },
          },
        },
      ]),
    });
    (props.managedPolicyArns ?? []).forEach((policyArn, i) => {
      new IamRolePolicyAttachment(this, `managed-${i}`, { role: this.role.name, policyArn });
    });
    for (const [name, statements] of Object.entries(props.inlinePolicies)) {
      new IamRolePolicy(this, name, {
        name,
        role: this.role.id,
        policy: policyDocument(statements),
      });
    }
  }
}
