/**
 * Every option pgshift takes, described once. The CLI builds its flags from this table
 * (`--<name>`), the actions read their inputs through it (`<name>`), and the workflows'
 * dispatch inputs carry the same names, defaults and descriptions — test/options/table.test.ts
 * fails when an action.yml or a workflow disagrees, and `npm run options:sync` rewrites them.
 *
 * A default is written the way a person types it ("30s", "16MB"), in the option's unit, and
 * is the only default of that option: the CLI shows it in --help, action.yml and the
 * workflows carry it, and the adapters pass its parsed value to the engine.
 *
 * Durations take a unit (ms, s, m, h): a bare number is refused, because the CLI once read it as
 * milliseconds and the actions as seconds. Sizes take B, kB, MB or GB; a bare number is bytes.
 *
 * Over 350 lines on purpose: it is the one table of every option; split, there would be two places to look an option up.
 */

export type OptionType =
  /** free text */
  | 'string'
  /** a connection URL (postgres://user:password@host:port/db) */
  | 'url'
  /** a file or directory on the machine that runs pgshift */
  | 'path'
  | 'boolean'
  /** a whole number ≥ 0 */
  | 'integer'
  /** parsed to milliseconds */
  | 'duration'
  /** parsed to bytes */
  | 'size'
  /** one of `choices` */
  | 'choice'
  /** comma- or newline-separated (actions), or several values (CLI) */
  | 'list';

export interface OptionSpec {
  type: OptionType;
  /** One or two sentences; the same text in --help, action.yml and the workflows. */
  description: string;
  /** As a person writes it. Absent: no default (the engine decides, or the option is optional). */
  default?: string;
  choices?: readonly string[];
  /** A password or token, or a URL that can carry one: masked and redacted before anything logs. */
  secret?: boolean;
  /** Environment variable the CLI reads when the flag is not given. */
  env?: string;
  /** CLI: the flag's value may be left out (`--watch` alone means the default). */
  optionalValue?: boolean;
  /** CLI placeholder in --help, e.g. `<url>`. */
  placeholder?: string;
}

export const OPTIONS = {
  // ── connections ────────────────────────────────────────────────────────────────────────
  'source-url': {
    type: 'url',
    secret: true,
    env: 'PGSHIFT_SOURCE_URL',
    description:
      'Connection URL of the source database as pgshift reaches it (postgres://user:password@host:5432/dbname). Pass it from a secret or the environment; it is masked before anything logs.',
  },
  'target-url': {
    type: 'url',
    secret: true,
    env: 'PGSHIFT_TARGET_URL',
    description:
      'Connection URL of the target (RDS) database. Pass it from a secret or the environment. In the actions, leave it empty and set rds-instance-id to look the endpoint and the RDS-managed master password up in AWS instead.',
  },
  'source-from-target-url': {
    type: 'url',
    secret: true,
    env: 'PGSHIFT_SOURCE_FROM_TARGET_URL',
    description:
      "The source as the target reaches it (on EC2, the instance's private IP instead of the runner-side localhost/Docker address): the subscription's connection. Default: source-url.",
  },
  'target-from-source-url': {
    type: 'url',
    secret: true,
    env: 'PGSHIFT_TARGET_FROM_SOURCE_URL',
    description: "The target as the source reaches it: the reverse subscription's connection after cutover. Default: target-url.",
  },
  'app-url': {
    type: 'url',
    secret: true,
    env: 'PGSHIFT_APP_URL',
    description:
      "The application's own connection (e.g. through PgBouncer: postgres://app:password@127.0.0.1:6432/tasteam). After the switch a test write goes through it and must land on the new primary. Default: a direct connection to the new primary.",
  },
  'ca-bundle': {
    type: 'path',
    env: 'PGSHIFT_CA_BUNDLE',
    description: 'Path to the CA bundle (RDS global-bundle.pem) for sslmode=verify-ca / verify-full connections.',
  },
  'rds-instance-id': {
    type: 'string',
    description:
      'RDS DB instance identifier of the target. When set (and target-url is empty), the endpoint comes from RDS and the password from the Secrets Manager secret RDS manages; needs AWS credentials in the job (OIDC).',
  },
  'target-database': {
    type: 'string',
    description: 'Database name on the RDS instance when the target is resolved from rds-instance-id.',
  },
  'aws-region': {
    type: 'string',
    description:
      'AWS region of the RDS instance (used with rds-instance-id) and of the DMS resources (engine dms), e.g. ap-northeast-2. Default: $AWS_REGION.',
  },
  'aws-target-role-arn': {
    type: 'string',
    description:
      "Only when RDS is in another AWS account than the runner (experiment 02): a role in that account that the RDS and Secrets Manager lookups assume, e.g. arn:aws:iam::<B>:role/pgshift-runner-reader (output target_reader_role_arn of the infra stacks). Empty: the job's own credentials.",
  },
  'source-instance-id': {
    type: 'string',
    description:
      "EC2 instance id of the source host. With rds-instance-id, an RDS snapshot of the target and an AMI of the source are taken and waited for before the freeze (the plan's pre-cutover checklist).",
  },

  // ── replication engine (experiment 03: native logical replication or AWS DMS) ─────────────
  engine: {
    type: 'choice',
    choices: ['native', 'dms'],
    default: 'native',
    env: 'PGSHIFT_ENGINE',
    description:
      "What replicates source -> target: native (a subscription on the target, the default) or dms (an AWS DMS task reading full-load's test_decoding slot; experiment 03, runbooks/dms.md).",
  },
  'reverse-engine': {
    type: 'choice',
    choices: ['native', 'dms'],
    default: 'native',
    env: 'PGSHIFT_REVERSE_ENGINE',
    description:
      'What replicates target -> source after cutover (rollback without loss): native (the source subscribes to RDS, the default) or dms (needs dms-reverse-source-endpoint-arn and dms-reverse-target-endpoint-arn).',
  },
  'dms-instance-arn': {
    type: 'string',
    env: 'PGSHIFT_DMS_INSTANCE_ARN',
    placeholder: '<arn>',
    description: 'engine: dms. The DMS replication instance (infra stack 03-dms output replication_instance_arn).',
  },
  'dms-source-endpoint-arn': {
    type: 'string',
    env: 'PGSHIFT_DMS_SOURCE_ENDPOINT_ARN',
    placeholder: '<arn>',
    description: 'engine: dms. The DMS endpoint that reads the source (03-dms output source_endpoint_arn).',
  },
  'dms-target-endpoint-arn': {
    type: 'string',
    env: 'PGSHIFT_DMS_TARGET_ENDPOINT_ARN',
    placeholder: '<arn>',
    description: 'engine: dms. The DMS endpoint that writes RDS (03-dms output target_endpoint_arn).',
  },
  'dms-reverse-source-endpoint-arn': {
    type: 'string',
    env: 'PGSHIFT_DMS_REVERSE_SOURCE_ENDPOINT_ARN',
    placeholder: '<arn>',
    description: 'reverse-engine: dms. A DMS endpoint that reads RDS (slot <name>_reverse, test-decoding).',
  },
  'dms-reverse-target-endpoint-arn': {
    type: 'string',
    env: 'PGSHIFT_DMS_REVERSE_TARGET_ENDPOINT_ARN',
    placeholder: '<arn>',
    description: 'reverse-engine: dms. A DMS endpoint that writes the source.',
  },
  'dms-user': {
    type: 'list',
    env: 'PGSHIFT_DMS_USER',
    placeholder: '<roles>',
    description: 'engine: dms. Comma-separated database roles the DMS endpoints log in as; the write freeze spares their sessions.',
  },
  'dms-subnet-cidrs': {
    type: 'list',
    env: 'PGSHIFT_DMS_SUBNET_CIDRS',
    placeholder: '<cidrs>',
    description:
      "preflight with engine dms: comma-separated subnets of the DMS replication instance (the source's pg_hba must let them in).",
  },

  // ── every command ──────────────────────────────────────────────────────────────────────
  name: {
    type: 'string',
    default: 'pgshift',
    description:
      'Migration name; names the publication, slot and subscription so two migrations can coexist. Lower-case letters, digits and _.',
  },
  json: { type: 'boolean', description: 'Print one JSON document on stdout (progress stays on stderr).' },
  quiet: { type: 'boolean', description: 'No progress on stderr.' },
  'json-report': {
    type: 'path',
    description: "Where to write the phase's JSON result (no secrets in it). Default: $RUNNER_TEMP/pgshift-<phase>.json.",
  },

  // ── preflight and full-load ────────────────────────────────────────────────────────────
  clean: {
    type: 'boolean',
    default: 'false',
    description:
      'Drop what an earlier attempt with this name left: its inactive slot and publication on the source and the tables on the target (preflight then warns instead of failing). Refused, touching nothing, while CDC runs on them (run cdc stop first).',
  },
  'wait-for-transactions': {
    type: 'duration',
    default: '10m',
    description:
      'How long the slot may wait for transactions open on the source (e.g. 30s, 10m). The sessions it waits for are named every 10 s; past this, full-load fails naming them and leaves nothing behind.',
  },
  jobs: {
    type: 'integer',
    description: 'Parallel workers, each with its own sessions (default: full-load the CPU cores of the machine, verify 2).',
  },
  'load-strategy': {
    type: 'choice',
    choices: ['snapshot-copy', 'dump-restore'],
    default: 'snapshot-copy',
    description:
      "snapshot-copy (online, inside the slot's snapshot, for CDC) or dump-restore (the plan's pg_dump -Fc + pg_restore, offline).",
  },
  'pg-bin-dir': {
    type: 'path',
    description: "Directory holding pg_dump and pg_restore of at least the source's major version (default: found by version).",
  },
  'pg-command-prefix': {
    type: 'string',
    placeholder: '<words>',
    description:
      "Command prefix that runs pg_dump and pg_restore, e.g. 'docker exec -i -e PGPASSWORD tasteam-postgres' to use the container's own.",
  },

  // ── cdc ────────────────────────────────────────────────────────────────────────────────
  command: {
    type: 'choice',
    choices: ['start', 'status', 'stop'],
    description:
      "start (subscribe the target from full-load's slot), status (lag, sync state, retained WAL) or stop (drop subscription, slot and publication).",
  },
  'cdc-strategy': {
    type: 'choice',
    choices: ['slot', 'subscription-copy'],
    default: 'slot',
    description:
      "slot (subscribe from full-load's slot) or subscription-copy (copy_data = true into a schema-only target; small databases).",
  },
  'slot-name': {
    type: 'string',
    description: "Slot to subscribe from (full-load's slot-name output). Default: derived from name.",
  },
  binary: { type: 'boolean', description: 'Binary transfer of column values (needs identical types on both sides).' },
  streaming: { type: 'boolean', default: 'true', description: 'Stream large in-progress transactions to the target.' },
  'disable-on-error': {
    type: 'boolean',
    description: 'An apply error disables the subscription instead of retrying in a loop.',
  },
  'create-helper-indexes': {
    type: 'boolean',
    description: 'Index REPLICA IDENTITY FULL tables on the target (used by PostgreSQL 16+ subscribers).',
  },
  ddl: {
    type: 'choice',
    choices: ['replay', 'freeze', 'off'],
    description:
      'Schema changes on the source: replay (on the target, in stream order; the default with cdc-strategy slot), freeze (refused) or off.',
  },
  refresh: {
    type: 'boolean',
    default: 'true',
    description: 'cdc ddl: add tables created on the source to the subscription (--no-refresh only lists).',
  },
  sql: {
    type: 'string',
    placeholder: '<sql>',
    description: 'cdc ddl resolve: run this on the target instead, at the same place in the stream.',
  },
  'mark-applied': {
    type: 'boolean',
    description: 'cdc ddl resolve: the change is already on the target (made by hand); only record it.',
  },
  'wait-caught-up': {
    type: 'duration',
    default: '5m',
    description:
      'With start or status: how long to wait for the target to catch up (lag at or under caught-up-lag) before reporting; 0 does not wait.',
  },
  'caught-up-lag': {
    type: 'size',
    default: '1MB',
    description:
      'Lag (by LSN) at or under which the target counts as caught up. Not 0: each status sample writes a heartbeat, so a few hundred bytes are always in flight.',
  },
  watch: {
    type: 'duration',
    default: '2s',
    optionalValue: true,
    placeholder: '[interval]',
    description: 'Sample every interval until Ctrl-C.',
  },
  'warn-retained': { type: 'size', default: '2GB', description: 'WAL retained by the slot that warns.' },
  'max-retained': { type: 'size', default: '10GB', description: 'WAL retained by the slot that is critical (exit 1).' },

  // ── verify ─────────────────────────────────────────────────────────────────────────────
  mode: {
    type: 'choice',
    choices: ['full', 'fast'],
    default: 'full',
    description: 'full (chunked checksums over key ranges, differing keys named) or fast (exact row counts on both sides).',
  },
  tables: {
    type: 'list',
    placeholder: '<patterns...>',
    description: 'Tables to verify as schema.table patterns, * as a wildcard; default every replicated table.',
  },
  strict: {
    type: 'boolean',
    default: 'false',
    description: 'Count sequences behind the source and stale materialized views as differences (they are expected while CDC runs).',
  },
  'max-keys': { type: 'integer', default: '20', description: 'Keys listed per table and category of difference.' },

  // ── cutover and rollback ───────────────────────────────────────────────────────────────
  switch: {
    type: 'choice',
    choices: ['pgbouncer', 'env-file', 'command', 'none'],
    default: 'pgbouncer',
    description:
      'How the application is moved: pgbouncer (rewrite the pgbouncer-db entry, RELOAD, RESUME), env-file (rewrite the variable env-key, run restart-command), command (run switch-command) or none.',
  },
  'pgbouncer-ini': {
    type: 'path',
    description: 'Path of the pgbouncer.ini whose pgbouncer-db entry is rewritten (switch pgbouncer).',
  },
  'pgbouncer-db': {
    type: 'string',
    description: 'Database entry in pgbouncer.ini that the application connects through (switch pgbouncer).',
  },
  'pgbouncer-admin-url': {
    type: 'url',
    secret: true,
    env: 'PGSHIFT_PGBOUNCER_ADMIN_URL',
    description: 'URL of the PgBouncer admin console (postgres://admin:password@host:6432/pgbouncer) for PAUSE, RELOAD and RESUME.',
  },
  'env-file': {
    type: 'path',
    description: "File holding the application's connection URL (switch env-file); rewritten atomically.",
  },
  'env-key': { type: 'string', default: 'DATABASE_URL', description: 'Variable rewritten in env-file.' },
  'restart-command': {
    type: 'string',
    placeholder: '<cmd>',
    description: 'Command run after env-file is rewritten (e.g. docker compose up -d backend).',
  },
  'switch-command': {
    type: 'string',
    placeholder: '<cmd>',
    description:
      'Command run to switch the application (switch command); PGSHIFT_NEW_HOST, PGSHIFT_NEW_PORT, PGSHIFT_NEW_DATABASE, PGSHIFT_NEW_USER and PGSHIFT_NEW_URL are in its environment.',
  },
  'max-lag': {
    type: 'size',
    default: '16MB',
    description: 'Refuse to start the write freeze while replication lag is above this.',
  },
  'max-freeze': {
    type: 'duration',
    default: '30s',
    description:
      'Upper bound of the write freeze; if the target has not applied the last source LSN by then, writes resume on the old primary and the step fails.',
  },
  'sequence-margin': {
    type: 'integer',
    default: '1000',
    description: 'Increments added to every sequence on the new primary.',
  },
  verify: {
    type: 'choice',
    choices: ['fast', 'full', 'none'],
    default: 'fast',
    description:
      'Exact check of the switch point, run after writes resume, in snapshots both sides export inside the freeze: fast (row counts), full (row hashes) or none. Its length does not add to the freeze.',
  },
  'on-mismatch': {
    type: 'choice',
    choices: ['alert', 'rollback'],
    default: 'alert',
    description:
      'cutover: when that check finds the two sides different at the switch point: alert (the step fails, the summary lists the tables and counts) or rollback (the lossless rollback runs at once, then the step fails).',
  },
  'state-dir': {
    type: 'path',
    description:
      'Directory where cutover records what rollback must undo (the roles it made read-only). It must survive between jobs, so not RUNNER_TEMP. Default: $PGSHIFT_STATE_DIR, else ~/.pgshift of the user running pgshift.',
  },
  'accept-data-loss': {
    type: 'boolean',
    default: 'false',
    description:
      'Allow a rollback without reverse replication, which drops every write made on the target after the cutover (listed per table in the summary).',
  },
  'dry-run': { type: 'boolean', description: 'recover: say what would be done, change nothing.' },
  primary: {
    type: 'choice',
    choices: ['source', 'target'],
    description:
      "recover: which server is primary, only when 'pgshift status' cannot tell (a crash around an AWS DMS link, with --switch none or a command that cannot say where the application points): source if the switch had not happened, target if it had. Refused when the servers say otherwise.",
  },
  'accept-no-rollback': {
    type: 'boolean',
    description: 'ddl unfreeze: you accept that rollback to the source can lose writes once the schema changes.',
  },

  // ── status ─────────────────────────────────────────────────────────────────────────────
  'lag-bound': {
    type: 'size',
    default: '256MB',
    description: 'A running replication link further behind than this needs attention.',
  },
  'alert-webhook-url': {
    type: 'url',
    secret: true,
    env: 'PGSHIFT_ALERT_WEBHOOK_URL',
    description: 'When something needs attention, post one line here (Slack-compatible JSON).',
  },

  'deployment-environment': {
    type: 'string',
    description:
      'When set (e.g. production-database), a GitHub deployment to this environment records the switch: in_progress while it runs, then success or failure, so the Deployments page shows which server is live. Needs github-token with the deployments write permission.',
  },
  'github-token': {
    type: 'string',
    secret: true,
    description: 'Token for the deployment record (the workflow passes github.token). Masked before anything logs.',
  },

  // ── rehearse ───────────────────────────────────────────────────────────────────────────
  rows: { type: 'integer', default: '20000', description: 'Database size: Tasteam members (other tables scale with it).' },
  rate: { type: 'integer', default: '200', description: 'Application writes per second through PgBouncer.' },
  'stage-seconds': { type: 'integer', default: '5', description: 'Seconds of traffic between steps.' },
  gb: {
    type: 'string',
    placeholder: '<n>',
    description: "Database size in GB instead of rows: the fixture grown with the benchmarks' generator (about 1 min per GB).",
  },
  report: {
    type: 'path',
    default: 'rehearsal-report.md',
    description: 'Markdown report with charts; an HTML copy with the charts drawn goes beside it (.html).',
  },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

export const optionNames = Object.keys(OPTIONS) as OptionName[];

export function optionSpec(name: OptionName): OptionSpec {
  return OPTIONS[name];
}
