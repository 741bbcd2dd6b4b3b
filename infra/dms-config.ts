// Experiment 03 (AWS DMS as a second replication engine): the optional `dms` block of infra/config.json.
// When present, `npm run synth` adds stack 03-dms next to the experiment (and production-dms next to
// production), the bootstrap stack adds DMS's fixed-name service roles and the migration role's dms:
// actions. Kept apart from config.ts so the DMS experiment can be read, and removed, as one piece.

/** Values terraform validate does not check (the provider takes any string): checked here and by the guardrails. */
export const DMS_PLUGIN_NAMES = ['test-decoding'] as const;
export const DMS_MAP_LONG_VARCHAR_AS = ['wstring', 'clob', 'nclob'] as const;
export const DMS_SOURCE_SSL_MODES = ['none', 'require', 'verify-ca', 'verify-full'] as const;
/** PostgreSQL 17 as source and target needs DMS 3.6.1 or later. */
export const DMS_MIN_ENGINE_VERSION = '3.6.1';

export const DMS_STACKS = { experiment: '03-dms', production: 'production-dms' } as const;

export interface DmsConfig {
  /** DMS engine version, pinned (auto minor upgrade is off: an upgrade restarts running tasks). */
  engineVersion: string;
  /** Provisioned instance class, e.g. "dms.t3.medium". Serverless cannot start CDC at a given LSN. */
  instanceClass: string;
  allocatedStorageGb: number;
  /** The slot full-load --engine dms creates: pgshift's --name (default "pgshift"). */
  slotName: string;
  /** How DMS maps unbounded varchar/text: wstring keeps it a string; clob/nclob make it a LOB. */
  mapLongVarcharAs: (typeof DMS_MAP_LONG_VARCHAR_AS)[number];
  /** TLS to the source PostgreSQL in Docker (the target is always verify-full against the RDS CA). */
  sourceSslMode: (typeof DMS_SOURCE_SSL_MODES)[number];
  /** The account already has dms-vpc-role and dms-cloudwatch-logs-role (they are per account, fixed names). */
  serviceRolesExist: boolean;
  /** Create the Secrets Manager interface endpoint (false when the VPC has one already: private DNS would clash). */
  createSecretsManagerEndpoint: boolean;
}

export function checkDmsConfig(d: DmsConfig | undefined, problems: string[]): void {
  if (d === undefined) return;
  const need = (ok: boolean, message: string): void => {
    if (!ok) problems.push(`dms.${message}`);
  };
  need(
    /^\d+\.\d+\.\d+$/.test(d.engineVersion ?? '') && compareVersions(d.engineVersion, DMS_MIN_ENGINE_VERSION) >= 0,
    `engineVersion: ${DMS_MIN_ENGINE_VERSION} or later (PostgreSQL 17 needs it), e.g. "3.6.1"`,
  );
  need(/^dms\.[a-z0-9]+\.[a-z0-9]+$/.test(d.instanceClass ?? ''), 'instanceClass: a provisioned class such as "dms.t3.medium"');
  need(Number.isInteger(d.allocatedStorageGb) && d.allocatedStorageGb >= 5, 'allocatedStorageGb: at least 5');
  need(/^[a-z][a-z0-9_]{0,39}$/.test(d.slotName ?? ''), 'slotName: pgshift\'s --name (lower-case letters, digits, _), e.g. "pgshift"');
  need(
    (DMS_MAP_LONG_VARCHAR_AS as readonly string[]).includes(d.mapLongVarcharAs),
    `mapLongVarcharAs: one of ${DMS_MAP_LONG_VARCHAR_AS.join(', ')}`,
  );
  need((DMS_SOURCE_SSL_MODES as readonly string[]).includes(d.sourceSslMode), `sourceSslMode: one of ${DMS_SOURCE_SSL_MODES.join(', ')}`);
  need(typeof d.serviceRolesExist === 'boolean', 'serviceRolesExist: true when the account already has dms-vpc-role');
  need(typeof d.createSecretsManagerEndpoint === 'boolean', 'createSecretsManagerEndpoint: true unless the VPC already has one');
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}
