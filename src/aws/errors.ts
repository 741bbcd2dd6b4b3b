import { PgshiftError, connectionError, usageError } from '../errors.js';
import { redact } from '../postgres/redact.js';

/**
 * Turn an AWS SDK error into one line that names what pgshift was doing and what to do next.
 * `action` is the IAM action of the call (e.g. `rds:DescribeDBInstances`): when AWS says
 * "access denied", that is exactly the permission the role or instance profile lacks.
 * AWS messages never carry our secrets, but they pass through `redact` anyway.
 */
export function explainAwsError(err: unknown, ctx: { action: string; what: string; region?: string; alsoNeeds?: string[] }): PgshiftError {
  if (err instanceof PgshiftError) return err;
  const e = err as { name?: string; Code?: string; message?: string };
  const name = e?.name ?? e?.Code ?? 'Error';
  const where = ctx.region ? ` in ${ctx.region}` : '';
  if (ACCESS_DENIED.has(name)) {
    return connectionError(
      `AWS denied ${ctx.action} while ${ctx.what}${where}`,
      `allow ${[ctx.action, ...(ctx.alsoNeeds ?? [])].join(' and ')} in the policy of the role pgshift runs as (AWS_ROLE_ARN in the workflows, the instance profile on the source host)`,
    );
  }
  if (NO_CREDENTIALS.has(name)) {
    return connectionError(
      `no usable AWS credentials while ${ctx.what} (${name})`,
      'in a workflow, add aws-actions/configure-aws-credentials with role-to-assume; on a host, attach an instance profile or set AWS_PROFILE',
    );
  }
  const firstLine = redact(String(e?.message ?? err))
    .split('\n')[0]
    .slice(0, 200);
  return connectionError(
    `AWS ${ctx.action} failed while ${ctx.what}${where}: ${name}: ${firstLine}`,
    'check the region and the resource name, then rerun',
  );
}

/** Error names AWS services use for a missing IAM permission (RDS, Secrets Manager/KMS, EC2, DMS). */
const ACCESS_DENIED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'AccessDeniedFault',
  'UnauthorizedOperation',
  'AuthorizationError',
  'NotAuthorized',
]);
const NO_CREDENTIALS = new Set([
  'CredentialsProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidSignatureException',
]);

/** The error's AWS name (SDK v3 sets `name` to the modeled exception or the wire code). */
export function awsErrorName(err: unknown): string {
  return (err as { name?: string })?.name ?? '';
}

/** The region pgshift talks to: the option, then AWS_REGION, then AWS_DEFAULT_REGION. */
export function resolveRegion(region?: string, env: NodeJS.ProcessEnv = process.env): string {
  const r = region || env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (!r) throw usageError('no AWS region given', 'pass --aws-region ap-northeast-2 or set AWS_REGION');
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(r)) throw usageError(`'${r}' is not an AWS region name`, 'use a region code such as ap-northeast-2');
  return r;
}
