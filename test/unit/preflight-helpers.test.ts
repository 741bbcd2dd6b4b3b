import { describe, expect, it } from 'vitest';
import { displayName, dockerRestartRemediation, nameList, rdsParameterRemediation } from '../../src/engine/preflight/common.js';
import { createRoleSql, type SourceRole } from '../../src/engine/preflight/role-checks.js';
import { compareVersions } from '../../src/engine/preflight/target-checks.js';

const role = (over: Partial<SourceRole>): SourceRole => ({
  name: 'app',
  why: ['has table grants'],
  superuser: false,
  login: true,
  createdb: false,
  createrole: false,
  replication: false,
  bypassrls: false,
  connlimit: -1,
  ...over,
});

describe('preflight helpers', () => {
  it('compares extension versions numerically (1.10 is newer than 1.9)', () => {
    expect(compareVersions('1.10', '1.9')).toBeGreaterThan(0);
    expect(compareVersions('1.9', '1.10')).toBeLessThan(0);
    expect(compareVersions('3.4.2', '3.4')).toBeGreaterThan(0);
    expect(compareVersions('1.1', '1.1')).toBe(0);
  });

  it('writes CREATE ROLE with quoted names and the source attributes, leaving the password to be filled in', () => {
    expect(createRoleSql(role({ name: 'Tasteam "App" 앱', createdb: true, connlimit: 20 }), false)).toBe(
      `CREATE ROLE "Tasteam ""App"" 앱" LOGIN CREATEDB CONNECTION LIMIT 20; ALTER ROLE "Tasteam ""App"" 앱" PASSWORD '<password>';`,
    );
    expect(createRoleSql(role({ name: 'readers', login: false }), false)).toBe('CREATE ROLE "readers" NOLOGIN;');
  });

  it('on RDS turns SUPERUSER into rds_superuser membership and drops attributes RDS refuses', () => {
    expect(createRoleSql(role({ name: 'admin', superuser: true, replication: true, bypassrls: true }), true)).toBe(
      `CREATE ROLE "admin" LOGIN; ALTER ROLE "admin" PASSWORD '<password>'; GRANT rds_superuser TO "admin";`,
    );
  });

  it('shows names as SQL would need them and caps long lists', () => {
    expect(displayName('public', 'review')).toBe('public.review');
    expect(displayName('analytics', 'MixedCase Table')).toBe('analytics."MixedCase Table"');
    expect(displayName('public', 'group')).toBe('public.group');
    expect(nameList(['a', 'b', 'c'], 2)).toBe('a, b and 1 more');
  });

  it('prints the Docker command line with the restart it needs, and the RDS parameter-group steps', () => {
    const docker = dockerRestartRemediation({ wal_level: 'logical', max_replication_slots: 10, max_wal_senders: 10 });
    expect(docker).toContain('  command: postgres -c wal_level=logical -c max_replication_slots=10 -c max_wal_senders=10');
    expect(docker).toContain('docker compose up -d postgres');
    expect(docker).toContain(
      "ALTER SYSTEM SET wal_level = 'logical'; ALTER SYSTEM SET max_replication_slots = '10'; ALTER SYSTEM SET max_wal_senders = '10'; then docker restart <container>",
    );
    const rds = rdsParameterRemediation({ 'rds.logical_replication': 1 });
    expect(rds).toContain('"ParameterName=rds.logical_replication,ParameterValue=1,ApplyMethod=pending-reboot"');
    expect(rds).toContain('aws rds reboot-db-instance --db-instance-identifier <instance>');
  });
});
