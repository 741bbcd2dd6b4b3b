import { EC2Client } from '@aws-sdk/client-ec2';
import { RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { connectionError } from '../errors.js';
import { awsErrorName, explainAwsError, resolveRegion } from './errors.js';

/** The three AWS clients pgshift uses. Tests pass mocked ones; everything else builds real ones. */
export interface AwsClients {
  region: string;
  /** The target's RDS (account B's when `targetRole` is set). */
  rds: RDSClient;
  /** The source host's EC2: always the runner's own account. */
  ec2: EC2Client;
  /** The target's master secret (account B's when `targetRole` is set). */
  secrets: SecretsManagerClient;
  /** Set when the target lives in another account: its role, and the credentials `rds` and `secrets` use. */
  targetRole?: { arn: string; credentials: AwsCredentialIdentityProvider };
}

export interface AwsClientOptions extends Partial<Omit<AwsClients, 'region' | 'targetRole'>> {
  region?: string;
  /**
   * A role in the target's account (experiment 02: RDS in account B, the runner in A) that the RDS and
   * Secrets Manager lookups assume — B's `pgshift-runner-reader` (infra bootstrap-target-account).
   * Empty or absent: every client uses the runner's own credentials.
   */
  targetRoleArn?: string;
}

/**
 * Clients for one region. Credentials come from the SDK's default chain: in a workflow the OIDC
 * role set up by aws-actions/configure-aws-credentials, on the source host its instance profile.
 * With `targetRoleArn`, the target's lookups (endpoint, master secret, snapshots) run as that role,
 * assumed from those credentials; the source's EC2 stays in the runner's account.
 */
export function awsClients(opts: AwsClientOptions = {}): AwsClients {
  const region = resolveRegion(opts.region);
  const targetRole = opts.targetRoleArn ? { arn: opts.targetRoleArn, credentials: assumedRole(opts.targetRoleArn, region) } : undefined;
  const credentials = targetRole?.credentials;
  return {
    region,
    rds: opts.rds ?? new RDSClient({ region, credentials }),
    ec2: opts.ec2 ?? new EC2Client({ region }),
    secrets: opts.secrets ?? new SecretsManagerClient({ region, credentials }),
    targetRole,
  };
}

/** One hour: the most a chained session may last (the runner's own credentials are a role session already). */
const TARGET_SESSION_SECONDS = 3600;
/** Assume again this long before the session runs out, so that no request carries credentials about to expire. */
const REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * Credentials of `roleArn`, assumed from the default chain. Shared by the RDS and Secrets Manager clients
 * and assumed once per session (fromTemporaryCredentials alone calls STS on every resolution).
 */
function assumedRole(roleArn: string, region: string): AwsCredentialIdentityProvider {
  const assume = fromTemporaryCredentials({
    params: { RoleArn: roleArn, RoleSessionName: 'pgshift-runner', DurationSeconds: TARGET_SESSION_SECONDS },
    clientConfig: { region },
  });
  let current: Promise<AwsCredentialIdentity> | undefined;
  return async () => {
    const held = current === undefined ? undefined : await current.catch(() => undefined);
    if (held !== undefined && (held.expiration === undefined || held.expiration.getTime() - Date.now() > REFRESH_MARGIN_MS)) return held;
    current = assume();
    return current;
  };
}

/**
 * Step one of every lookup in the target's account: assume its role before reading anything, so that a
 * refused AssumeRole is reported as what it is — with the role named — and not as a failed RDS call.
 * Nothing to undo: the session simply expires.
 */
export async function assumeTargetRole(aws: AwsClients): Promise<void> {
  if (aws.targetRole === undefined) return;
  const { arn } = aws.targetRole;
  try {
    await aws.targetRole.credentials();
  } catch (err) {
    if (awsErrorName(err) === 'AccessDenied') {
      throw connectionError(
        `AWS denied sts:AssumeRole on ${arn}`,
        "that role must trust this runner's role (infra stack bootstrap-target-account), and this runner's role must be allowed sts:AssumeRole on it",
      );
    }
    throw explainAwsError(err, { action: 'sts:AssumeRole', what: `assuming the target account's role ${arn}`, region: aws.region });
  }
}
