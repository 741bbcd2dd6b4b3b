// What every stack shares: the AWS provider (region, account guard, default tags) and the S3 state backend.
import { S3Backend, type TerraformStack } from 'cdktf';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider/index.js';
import { stateKey, type InfraConfig } from '../config.js';

export function awsProvider(stack: TerraformStack, config: InfraConfig, tags: Record<string, string>): AwsProvider {
  return new AwsProvider(stack, 'aws', {
    region: config.region,
    // A mistyped profile must not create a database in the wrong account.
    allowedAccountIds: config.accountId === undefined ? undefined : [config.accountId],
    defaultTags: [{ tags: { ...config.tags, ...tags, ManagedBy: 'pgshift-infra' } }],
  });
}

/**
 * Remote state in the existing bucket, one key per stack, encrypted, locked with S3's own lock file
 * (Terraform >= 1.10; no DynamoDB table to create first). cdktf 0.21 predates `use_lockfile`, hence the override.
 */
export function stateBackend(stack: TerraformStack, config: InfraConfig, stackName: string): S3Backend {
  const backend = new S3Backend(stack, {
    bucket: config.state.bucket,
    key: stateKey(config.state, stackName),
    region: config.state.region,
    encrypt: true,
  });
  stack.addOverride('terraform.backend.s3.use_lockfile', true);
  // use_lockfile needs Terraform 1.10; an older CLI would silently plan without a lock.
  stack.addOverride('terraform.required_version', '>= 1.10.0');
  return backend;
}
