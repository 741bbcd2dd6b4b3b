import { usageError } from '../errors.js';
import { parseConnInfo, type ConnInfo } from '../postgres/conninfo.js';
import { registerSecret } from '../postgres/redact.js';
import { awsClients, type AwsClients } from './clients.js';
import { findSourceInstance, type SourceInstance, type SourceSelector } from './ec2.js';

export interface SourceFromTargetOptions {
  /** The source URL as the runner on the source host uses it (often localhost or the Docker port). */
  sourceUrl: string;
  /** The source EC2 instance, by id or Name tag. */
  instance: SourceSelector;
  /** The port PostgreSQL is published on, as seen from RDS (default: the URL's port). */
  port?: number;
  region?: string;
  clients?: Partial<Omit<AwsClients, 'region'>>;
}

export interface SourceFromTarget {
  /** The same user, password, database and TLS settings, with the host RDS must dial: the private IP. */
  url: string;
  info: ConnInfo;
  instance: SourceInstance;
}

/**
 * The source as the subscription on RDS reaches it. The runner talks to the source at
 * localhost, but CREATE SUBSCRIPTION ... CONNECTION is dialled by RDS, inside the VPC: it needs
 * the source instance's private IP (never the public one, which would leave the VPC).
 */
export async function resolveSourceFromTarget(opts: SourceFromTargetOptions): Promise<SourceFromTarget> {
  const aws = awsClients({ region: opts.region, ...opts.clients });
  // Parsing first registers the password for redaction and rejects a malformed URL before any AWS call.
  parseConnInfo(opts.sourceUrl, 'source');
  const instance = await findSourceInstance(aws.ec2, opts.instance, aws.region);
  const u = new URL(opts.sourceUrl);
  u.hostname = instance.privateIp;
  if (opts.port !== undefined) {
    if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535)
      throw usageError(`port ${opts.port} is not a TCP port`, 'pass the port PostgreSQL is published on, e.g. 5432');
    u.port = String(opts.port);
  }
  const url = u.toString();
  registerSecret(url);
  return { url, info: parseConnInfo(url, 'source'), instance };
}
