// Production: RDS added to the existing v1 VPC and the existing EC2's security group, by id — nothing of
// v1 is created, imported or replaced, and the database is hard to lose.
import { describe, expect, it } from 'vitest';
import { exampleConfig, ofType, only, ref, synthesize, type Json } from './fixtures.js';

const tf = synthesize().production!;
const EXISTING_VPC = 'vpc-0123456789abcdef0';
const EXISTING_SG = 'sg-0123456789abcdef0';

describe('production stack', () => {
  it('creates no VPC, no gateway, no instance and no security group for the source; looks nothing up', () => {
    for (const type of ['aws_vpc', 'aws_internet_gateway', 'aws_instance', 'aws_eip', 'aws_nat_gateway', 'aws_route'])
      expect(ofType(tf, type), type).toEqual([]);
    expect(ofType(tf, 'aws_security_group')).toHaveLength(1);
    expect(only(tf, 'aws_security_group').name).toBe('tasteam-v2-rds');
    expect(tf.data).toBeUndefined();
    expect(tf.import).toBeUndefined();
  });

  it('adds two private subnets inside 172.31.0.0/16 in two AZs, on a route table with no route out', () => {
    const subnets = ofType(tf, 'aws_subnet').map(([, s]) => s);
    expect(subnets.map((s) => [s.vpc_id, s.cidr_block, s.availability_zone, s.map_public_ip_on_launch])).toEqual([
      [EXISTING_VPC, '172.31.128.0/24', 'ap-northeast-2b', false],
      [EXISTING_VPC, '172.31.129.0/24', 'ap-northeast-2d', false],
    ]);
    const table = only(tf, 'aws_route_table');
    expect(table).toMatchObject({ vpc_id: EXISTING_VPC });
    expect(table.route).toBeUndefined();
    const tableRef = ref(tf, 'aws_route_table', () => true);
    expect(ofType(tf, 'aws_route_table_association').map(([, a]) => a.route_table_id)).toEqual([tableRef, tableRef]);
  });

  it('RDS is private, encrypted, managed-password, with a week of backups, deletion protection and a final snapshot', () => {
    const db = only(tf, 'aws_db_instance');
    expect(db).toMatchObject({
      identifier: 'tasteam-v2',
      engine: 'postgres',
      engine_version: '17',
      publicly_accessible: false,
      storage_encrypted: true,
      manage_master_user_password: true,
      backup_retention_period: 7,
      deletion_protection: true,
      skip_final_snapshot: false,
      final_snapshot_identifier: 'tasteam-v2-final',
      apply_immediately: false,
    });
    expect(db.password).toBeUndefined();
    expect(only(tf, 'aws_db_parameter_group').parameter).toEqual([
      { name: 'rds.logical_replication', value: '1', apply_method: 'pending-reboot' },
    ]);
  });

  it('opens 5432 both ways between RDS and the existing EC2 group, adding rules to that group by id', () => {
    const rds = ref(tf, 'aws_security_group', () => true);
    const ingress = ofType(tf, 'aws_vpc_security_group_ingress_rule').map(([, r]) => r);
    const egress = ofType(tf, 'aws_vpc_security_group_egress_rule').map(([, r]) => r);
    const pg = { ip_protocol: 'tcp', from_port: 5432, to_port: 5432 };
    expect(ingress).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ...pg, security_group_id: rds, referenced_security_group_id: EXISTING_SG }),
        expect.objectContaining({ ...pg, security_group_id: EXISTING_SG, referenced_security_group_id: rds }),
      ]),
    );
    expect(egress).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ...pg, security_group_id: EXISTING_SG, referenced_security_group_id: rds }),
        expect.objectContaining({ ...pg, security_group_id: rds, referenced_security_group_id: EXISTING_SG }),
      ]),
    );
    expect(ingress).toHaveLength(2);
    expect(egress).toHaveLength(2);
  });

  it("has its own state key next to the experiment's", () => {
    expect(tf.terraform.backend.s3.key).toBe('v1-v2-migration/production/terraform.tfstate');
    expect(tf.terraform.backend.s3.use_lockfile).toBe(true);
  });

  it('outputs the endpoint and a psql command that fetches the password at the moment of use', () => {
    const out = tf.output as Record<string, Json>;
    expect(out.rds_endpoint!.value).toBe(ref(tf, 'aws_db_instance', () => true, 'address'));
    expect(out.psql_command!.value).toMatch(
      /^PGPASSWORD="\$\(aws secretsmanager get-secret-value .*jq -r \.password\)" psql "host=\$\{aws_db_instance\.[^}]+\.address\} port=5432 dbname=tasteam user=postgres sslmode=require"$/,
    );
  });

  it('is synthesized only when the config has a production section', () => {
    const none = synthesize(
      exampleConfig((c) => {
        delete c.production;
      }),
    );
    expect(none.production).toBeUndefined();
  });
});
