/**
 * The path the plan's security groups forget: RDS connecting back to the source's port 5432.
 * Only the target can prove it, so the probe runs there: CREATE SUBSCRIPTION with
 * connect = true makes the target open a replication connection to the source and read the
 * probe publication; with enabled = false, create_slot = false and slot_name = NONE it
 * leaves nothing running and no slot behind.
 */
import type pg from 'pg';
import { libpqConninfo, type ConnInfo } from '../../postgres/conninfo.js';
import { redact } from '../../postgres/redact.js';
import { ident } from '../../postgres/sql.js';
import { check } from './common.js';
import type { CheckContext, PreflightCheck } from './types.js';
import { createSubscription } from '../../postgres/subscription.js';

/** Long enough for a slow link, short enough that a dropped SYN does not hang preflight for minutes. */
const PROBE_CONNECT_TIMEOUT_S = 10;

export async function checkTargetReachesSource(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'Target reaches the source for replication';
  const via = sourceAsSeenFromTarget(ctx);
  const where = `${via.host}:${via.port}/${via.database}`;
  const { probePublication, probeSubscription } = ctx.opts.names;
  try {
    await dropProbe(ctx);
    try {
      await ctx.source.query(`CREATE PUBLICATION ${ident(probePublication)}`);
    } catch (err) {
      return check(
        'path.target-to-source',
        'path',
        'FAIL',
        title,
        `The probe publication could not be created on the source: ${redact((err as Error).message)}`,
        {
          remediation: `As a superuser on the source: GRANT CREATE ON DATABASE ${ident(ctx.sourceFacts.database)} TO ${ident(ctx.sourceFacts.user)};`,
        },
      );
    }
    await createProbeSubscription(ctx.target, probeSubscription, probePublication, via);
    return check(
      'path.target-to-source',
      'path',
      'PASS',
      title,
      `The target opened a replication connection to the source at ${where} as ${via.user}.`,
    );
  } catch (err) {
    return probeFailure(ctx, err, via, where);
  } finally {
    await dropProbe(ctx);
  }
}

/** The target may reach the source by another address (RDS → the EC2 private IP); the password is the source's unless given. */
function sourceAsSeenFromTarget(ctx: CheckContext): ConnInfo {
  const via = ctx.opts.sourceFromTarget ?? ctx.opts.source;
  if (via.password === undefined && via.user === ctx.opts.source.user) return { ...via, password: ctx.opts.source.password };
  return via;
}

async function createProbeSubscription(target: pg.Client, subscription: string, publication: string, via: ConnInfo): Promise<void> {
  const conninfo = `${libpqConninfo(via, { includePassword: true })} connect_timeout=${PROBE_CONNECT_TIMEOUT_S}`;
  await createSubscription(target, subscription, conninfo, publication, [
    'connect = true',
    'enabled = false',
    'create_slot = false',
    'slot_name = NONE',
  ]);
}

/** Leftovers of an interrupted earlier probe are dropped too. Never throws: cleanup must not mask the verdict. */
async function dropProbe(ctx: CheckContext): Promise<void> {
  const { probePublication, probeSubscription } = ctx.opts.names;
  const sub = await ctx.target
    .query(
      'SELECT subslotname FROM pg_subscription WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())',
      [probeSubscription],
    )
    .catch(() => null);
  if (sub && sub.rowCount) {
    // Detach from any slot first so DROP does not try to reach the source again.
    await ctx.target.query(`ALTER SUBSCRIPTION ${ident(probeSubscription)} DISABLE`).catch(() => undefined);
    await ctx.target.query(`ALTER SUBSCRIPTION ${ident(probeSubscription)} SET (slot_name = NONE)`).catch(() => undefined);
    await ctx.target
      .query(`DROP SUBSCRIPTION IF EXISTS ${ident(probeSubscription)}`)
      .catch((e: unknown) =>
        ctx.opts.log.warn(
          `could not drop the probe subscription ${probeSubscription} on the target: ${redact(String((e as Error).message))}`,
        ),
      );
  }
  await ctx.source
    .query(`DROP PUBLICATION IF EXISTS ${ident(probePublication)}`)
    .catch((e: unknown) =>
      ctx.opts.log.warn(`could not drop the probe publication ${probePublication} on the source: ${redact(String((e as Error).message))}`),
    );
}

function probeFailure(ctx: CheckContext, err: unknown, via: ConnInfo, where: string): PreflightCheck {
  const e = err as { code?: string; message?: string };
  const message = redact(e?.message ?? String(err));
  const title = 'Target reaches the source for replication';
  const hba = `host ${via.database} ${via.user} <RDS subnet CIDR> scram-sha-256`;
  if (e?.code === '42501') {
    return check('path.target-to-source', 'path', 'FAIL', title, `The target refused to create the probe subscription: ${message}`, {
      remediation: 'Give the target user the right to create subscriptions (see target.subscription-privilege), then run preflight again.',
    });
  }
  if (/password authentication failed|authentication failed/i.test(message)) {
    return check(
      'path.target-to-source',
      'path',
      'FAIL',
      title,
      `The target reached ${where} but the source refused user ${via.user}: ${message}`,
      {
        remediation: 'Check the password of the source user in the URL the target uses (--source-from-target-url).',
      },
    );
  }
  if (/pg_hba\.conf|no pg_hba/i.test(message)) {
    return check('path.target-to-source', 'path', 'FAIL', title, `The target reached ${where} but pg_hba.conf rejected it: ${message}`, {
      remediation: `Add to the source's pg_hba.conf (inside the container's data directory):\n${hba}\nthen on the source: SELECT pg_reload_conf();`,
    });
  }
  return check(
    'path.target-to-source',
    'path',
    'FAIL',
    title,
    `The target could not open a replication connection to the source at ${where}: ${message}`,
    {
      remediation: [
        `Allow the RDS instance to reach the source: in the EC2 instance's security group, add an inbound rule TCP ${via.port} from the RDS instance's security group`,
        `(aws ec2 authorize-security-group-ingress --group-id <ec2-sg> --protocol tcp --port ${via.port} --source-group <rds-sg>),`,
        `publish the container's port on the private interface (docker-compose ports: "${via.port}:5432"), keep listen_addresses = '*',`,
        `and allow the RDS subnet in pg_hba.conf: ${hba}`,
        `Pass the address RDS uses for the source (the EC2 private IP) with --source-from-target-url.`,
      ].join('\n'),
    },
  );
}
