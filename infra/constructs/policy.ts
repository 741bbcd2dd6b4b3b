// IAM policy documents as plain JSON text. References to other resources (ARNs) stay Terraform
// interpolations inside the string, so the synthesized JSON reads like the policy AWS will store and the
// tests can parse it; Fn.jsonencode would bury the same document in an HCL expression.
export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource?: string | string[];
  Principal?: Record<string, string | string[]>;
  Condition?: Record<string, Record<string, string | string[]>>;
}

export function policyDocument(statements: PolicyStatement[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}
