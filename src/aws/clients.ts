import { EC2Client } from '@aws-sdk/client-ec2';
import { RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { resolveRegion } from './errors.js';

/** The three AWS clients pgshift uses. Tests pass mocked ones; everything else builds real ones. */
export interface AwsClients {
  region: string;
  rds: RDSClient;
  ec2: EC2Client;
  secrets: SecretsManagerClient;
}

/**
 * Clients for one region. Credentials come from the SDK's default chain: in a workflow the OIDC
 * role set up by aws-actions/configure-aws-credentials, on the source host its instance profile.
 */
export function awsClients(opts: { region?: string } & Partial<Omit<AwsClients, 'region'>> = {}): AwsClients {
  const region = resolveRegion(opts.region);
  return {
    region,
    rds: opts.rds ?? new RDSClient({ region }),
    ec2: opts.ec2 ?? new EC2Client({ region }),
    secrets: opts.secrets ?? new SecretsManagerClient({ region }),
  };
}
