/**
 * Source and target connections from the action inputs. The target is either a URL (a secret)
 * or, when no URL is given, an RDS instance identifier looked up through src/aws (endpoint from RDS, password from
 * the Secrets Manager secret RDS manages) with the job's OIDC credentials.
 */
import type { AwsCheck } from '../../src/aws/checks.js';
import { resolveRdsTarget } from '../../src/aws/target-lookup.js';
import { usageError } from '../../src/errors.js';
import { parseConnInfo, type ConnInfo } from '../../src/postgres/conninfo.js';
import { inputText, maskConnectionUrl, requiredInput } from './inputs.js';

export interface Connections {
  source: ConnInfo;
  target: ConnInfo;
  /** The source as the target reaches it (subscription CONNECTION); the source itself when not given. */
  sourceFromTarget: ConnInfo;
  /** The target as the source reaches it (reverse subscription after cutover); the target itself when not given. */
  targetFromSource: ConnInfo;
  /** RDS-side checks (status, rds.logical_replication in effect, access, backups) when the target came from rds-instance-id. */
  awsChecks: AwsCheck[];
}

export async function connectionsFromInputs(): Promise<Connections> {
  const caBundle = inputText('ca-bundle');
  const source = parseConnInfo(requiredInput('source-url'), 'source', { caBundle });
  const { target, awsChecks } = await targetFromInputs(caBundle);
  const sftUrl = inputText('source-from-target-url');
  const sourceFromTarget = sftUrl ? parseConnInfo(sftUrl, 'source', { caBundle }) : source;
  const tfsUrl = inputText('target-from-source-url');
  const targetFromSource = tfsUrl ? parseConnInfo(tfsUrl, 'target', { caBundle }) : target;
  return { source, target, sourceFromTarget, targetFromSource, awsChecks };
}

async function targetFromInputs(caBundle: string | undefined): Promise<{ target: ConnInfo; awsChecks: AwsCheck[] }> {
  const url = inputText('target-url');
  const instanceId = inputText('rds-instance-id');
  // With both, the URL wins for the connection; rds-instance-id then only names the instance (pre-cutover snapshot).
  if (url) return { target: parseConnInfo(url, 'target', { caBundle }), awsChecks: [] };
  if (instanceId) return rdsTarget(instanceId, caBundle);
  throw usageError(
    'no target: target-url and rds-instance-id are both empty',
    'pass target-url from a secret, or rds-instance-id with aws-region',
  );
}

async function rdsTarget(instanceId: string, caBundle: string | undefined): Promise<{ target: ConnInfo; awsChecks: AwsCheck[] }> {
  const database = inputText('target-database');
  if (!database)
    throw usageError(
      'rds-instance-id is set but target-database is empty',
      'set target-database to the database to migrate into on the RDS instance',
    );
  const rds = await resolveRdsTarget({
    dbInstanceIdentifier: instanceId,
    database,
    region: inputText('aws-region'),
    // RDS in another account (experiment 02): the lookups run as that account's reader role.
    targetRoleArn: inputText('aws-target-role-arn'),
    caBundle,
  });
  // The URL carries the RDS-managed master password read from Secrets Manager: mask it before anything logs.
  maskConnectionUrl(rds.url);
  return { target: rds.info, awsChecks: rds.checks };
}
