/**
 * Checks for DDL replay (docs/design.md rule 6): event triggers need a superuser on the source
 * and the master user (rds_superuser) on RDS; the replay runs each statement as the role that
 * ran it on the source, so the target's migration user must be able to SET ROLE to every table
 * owner (on 16+ a CREATEROLE user gets ADMIN but not SET on the roles it creates); and the
 * source's logical_decoding_work_mem says when big transactions spill or stream.
 */
import { check, nameList } from './common.js';
import type { CheckContext, PreflightCheck, ServerFacts } from './types.js';

async function mayCreateEventTriggers(client: CheckContext['source'], facts: ServerFacts): Promise<boolean> {
  if (facts.isSuperuser) return true;
  const r = await client.query(
    `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_superuser') AND pg_has_role(current_user, 'rds_superuser', 'MEMBER') AS ok`,
  );
  return r.rows[0].ok;
}

export async function checkSourceEventTriggers(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'Source allows event triggers (DDL capture and freeze)';
  if (await mayCreateEventTriggers(ctx.source, ctx.sourceFacts))
    return check('source.event-triggers', 'source', 'PASS', title, `${ctx.sourceFacts.user} may create event triggers.`);
  return check(
    'source.event-triggers',
    'source',
    'WARN',
    title,
    `${ctx.sourceFacts.user} is not a superuser: schema changes cannot be captured or frozen during the migration.`,
    { remediation: 'Run full-load and cdc start as a superuser (the postgres user in the Docker container), or pass --ddl off.' },
  );
}

export async function checkTargetDdlReplay(ctx: CheckContext): Promise<PreflightCheck> {
  const title = 'Target can replay DDL as the table owners';
  const owners = await ctx.source.query<{ owner: string }>(
    `SELECT DISTINCT pg_get_userbyid(c.relowner) AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_pgshift') AND n.nspname NOT LIKE 'pg\\_%'
      ORDER BY 1`,
  );
  const privilege = ctx.targetFacts.major >= 16 ? 'SET' : 'MEMBER';
  const cannot: string[] = [];
  for (const { owner } of owners.rows) {
    const r = await ctx.target.query(
      `SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) THEN NULL ELSE pg_has_role(current_user, $1, $2) END AS ok`,
      [owner, privilege],
    );
    if (r.rows[0].ok === false) cannot.push(owner);
  }
  const eventTriggers = await mayCreateEventTriggers(ctx.target, ctx.targetFacts);
  if (!cannot.length && eventTriggers)
    return check(
      'target.ddl-replay',
      'target',
      'PASS',
      title,
      `${ctx.targetFacts.user} may SET ROLE to every table owner and create event triggers.`,
    );
  const problems = [
    ...(cannot.length
      ? [`${ctx.targetFacts.user} may not SET ROLE to ${nameList(cannot)}: DDL they run on the source stops replication.`]
      : []),
    ...(eventTriggers ? [] : ['it may not create event triggers: DDL cannot be frozen on the target after cutover.']),
  ];
  return check('target.ddl-replay', 'target', 'WARN', title, problems.join(' '), {
    objects: cannot,
    remediation: cannot.length
      ? cannot.map((o) => `GRANT "${o.replaceAll('"', '""')}" TO "${ctx.targetFacts.user.replaceAll('"', '""')}" WITH SET TRUE;`).join(' ')
      : 'Run pgshift on the target as the RDS master user (member of rds_superuser).',
  });
}

export async function checkLogicalDecodingWorkMem(ctx: CheckContext): Promise<PreflightCheck> {
  const r = await ctx.source.query<{ setting: string }>(`SELECT current_setting('logical_decoding_work_mem') AS setting`);
  return check(
    'source.logical-decoding-work-mem',
    'source',
    'PASS',
    'Source logical_decoding_work_mem',
    `logical_decoding_work_mem = ${r.rows[0].setting}: a transaction bigger than this is streamed to the target (streaming on) or spilled to the source's disk.`,
    { data: { logicalDecodingWorkMem: r.rows[0].setting } },
  );
}
