// Policy checks over synthesized Terraform JSON: the mistakes the plan's Terraform made or invited, checked
// on every synth (main.ts refuses to write a stack that breaks one) and in the tests.
//  - nothing on SSH (22) or PostgreSQL (5432) from or to the whole internet;
//  - RDS private, encrypted, with backups, its password managed by Secrets Manager;
//  - no password literal anywhere;
//  - EC2 instances require IMDSv2;
//  - no security-group reference across accounts (`<account>/sg-…`): open provider bugs, use CIDR rules;
//  - DMS (experiment 03): see guardrails-dms.ts.
import { dmsViolations } from './guardrails-dms.js';

type Json = Record<string, any>;

const WORLD = new Set(['0.0.0.0/0', '::/0']);
const GUARDED_PORTS = [22, 5432];

export interface Violation {
  resource: string;
  rule: string;
}

function resources(doc: Json, type: string): Array<[string, Json]> {
  return Object.entries<Json>(doc.resource?.[type] ?? {});
}

function coversGuardedPort(protocol: unknown, from: unknown, to: unknown): number | undefined {
  const p = String(protocol ?? '');
  if (p === '-1' || p === 'all') return GUARDED_PORTS[0];
  if (p !== 'tcp' && p !== '6') return undefined;
  const lo = Number(from);
  const hi = Number(to ?? from);
  return GUARDED_PORTS.find((port) => lo <= port && port <= hi);
}

function worldCidrs(rule: Json): string[] {
  const cidrs = [rule.cidr_ipv4, rule.cidr_ipv6, ...(rule.cidr_blocks ?? []), ...(rule.ipv6_cidr_blocks ?? [])];
  return cidrs.filter((c): c is string => typeof c === 'string' && WORLD.has(c));
}

function openToWorld(doc: Json): Violation[] {
  const found: Violation[] = [];
  const check = (resource: string, direction: string, rule: Json): void => {
    const port = coversGuardedPort(rule.ip_protocol ?? rule.protocol, rule.from_port, rule.to_port);
    const world = worldCidrs(rule);
    if (port !== undefined && world.length > 0) found.push({ resource, rule: `${direction} port ${port} open to ${world.join(', ')}` });
  };
  for (const [name, r] of resources(doc, 'aws_vpc_security_group_ingress_rule'))
    check(`aws_vpc_security_group_ingress_rule.${name}`, 'ingress', r);
  for (const [name, r] of resources(doc, 'aws_vpc_security_group_egress_rule'))
    check(`aws_vpc_security_group_egress_rule.${name}`, 'egress', r);
  for (const [name, r] of resources(doc, 'aws_security_group_rule')) check(`aws_security_group_rule.${name}`, String(r.type), r);
  for (const [name, sg] of resources(doc, 'aws_security_group')) {
    for (const direction of ['ingress', 'egress']) {
      for (const rule of [sg[direction] ?? []].flat()) check(`aws_security_group.${name}`, direction, rule);
    }
  }
  return found;
}

function databases(doc: Json): Violation[] {
  const found: Violation[] = [];
  for (const [name, db] of resources(doc, 'aws_db_instance')) {
    const resource = `aws_db_instance.${name}`;
    if (db.publicly_accessible !== false) found.push({ resource, rule: 'publicly_accessible must be false' });
    if (db.storage_encrypted !== true) found.push({ resource, rule: 'storage_encrypted must be true' });
    if (db.manage_master_user_password !== true)
      found.push({ resource, rule: 'manage_master_user_password must be true (Secrets Manager keeps the password)' });
    if (!(Number(db.backup_retention_period) >= 1)) found.push({ resource, rule: 'backup_retention_period must be at least 1 day' });
  }
  return found;
}

function instances(doc: Json): Violation[] {
  const found: Violation[] = [];
  for (const [name, vm] of resources(doc, 'aws_instance')) {
    const tokens = [vm.metadata_options ?? []].flat()[0]?.http_tokens;
    if (tokens !== 'required')
      found.push({ resource: `aws_instance.${name}`, rule: 'metadata_options.http_tokens must be "required" (IMDSv2)' });
  }
  return found;
}

/** Any attribute named like a password that carries a value (a boolean switch such as manage_master_user_password is fine). */
function passwordLiterals(doc: Json): Violation[] {
  const found: Violation[] = [];
  const walk = (value: unknown, path: string): void => {
    if (Array.isArray(value)) {
      for (const [i, v] of value.entries()) walk(v, `${path}[${i}]`);
    } else if (value !== null && typeof value === 'object') {
      for (const [key, v] of Object.entries(value)) {
        if (key === '//') continue;
        if (/pass(word|wd)|secret_string|private_key/i.test(key) && (typeof v === 'string' || typeof v === 'number') && String(v) !== '') {
          found.push({ resource: path, rule: `"${key}" holds a literal; keep credentials in Secrets Manager or SSM` });
        }
        walk(v, path === '' ? key : `${path}.${key}`);
      }
    }
  };
  walk({ resource: doc.resource, variable: doc.variable, locals: doc.locals, output: doc.output, provider: doc.provider }, '');
  return found;
}

/**
 * A group in another account is referenced as `<account id>/sg-…`. The AWS provider shows a perpetual diff
 * without the prefix and fails updates with InvalidGroupId.Malformed; across accounts the stacks use CIDRs.
 */
function crossAccountGroupReferences(doc: Json): Violation[] {
  const found: Violation[] = [];
  const check = (resource: string, value: unknown): void => {
    if (typeof value === 'string' && /^\d{12}\/sg-/.test(value))
      found.push({ resource, rule: `references security group ${value} in another account; use the peer's CIDRs instead` });
  };
  for (const type of ['aws_vpc_security_group_ingress_rule', 'aws_vpc_security_group_egress_rule'])
    for (const [name, r] of resources(doc, type)) check(`${type}.${name}`, r.referenced_security_group_id);
  for (const [name, r] of resources(doc, 'aws_security_group_rule')) check(`aws_security_group_rule.${name}`, r.source_security_group_id);
  for (const [name, sg] of resources(doc, 'aws_security_group'))
    for (const direction of ['ingress', 'egress'])
      for (const rule of [sg[direction] ?? []].flat())
        for (const ref of rule.security_groups ?? []) check(`aws_security_group.${name}`, ref);
  return found;
}

export function guardrailViolations(synthesized: string | Json): Violation[] {
  const doc: Json = typeof synthesized === 'string' ? JSON.parse(synthesized) : synthesized;
  return [
    ...openToWorld(doc),
    ...databases(doc),
    ...instances(doc),
    ...passwordLiterals(doc),
    ...crossAccountGroupReferences(doc),
    ...dmsViolations(doc),
  ];
}
