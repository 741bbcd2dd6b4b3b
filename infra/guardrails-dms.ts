// Guardrails for experiment 03's DMS resources, over synthesized Terraform JSON. terraform validate takes
// any string for plugin_name and map_long_varchar_as, so the allowed values are checked here, at synth.
import { compareVersions, DMS_MAP_LONG_VARCHAR_AS, DMS_MIN_ENGINE_VERSION, DMS_PLUGIN_NAMES } from './dms-config.js';

// biome-ignore lint/suspicious/noExplicitAny: synthesized Terraform JSON is untyped
type Json = Record<string, any>;

export interface DmsViolation {
  resource: string;
  rule: string;
}

const entries = (doc: Json, type: string): Array<[string, Json]> => Object.entries<Json>(doc.resource?.[type] ?? {});

export function dmsViolations(doc: Json): DmsViolation[] {
  const found: DmsViolation[] = [];
  for (const [name, ri] of entries(doc, 'aws_dms_replication_instance')) {
    const resource = `aws_dms_replication_instance.${name}`;
    if (ri.publicly_accessible !== false) found.push({ resource, rule: 'publicly_accessible must be false' });
    if (ri.auto_minor_version_upgrade !== false)
      found.push({ resource, rule: 'auto_minor_version_upgrade must be false (an upgrade restarts running CDC tasks)' });
    if (typeof ri.engine_version !== 'string' || compareVersions(ri.engine_version, DMS_MIN_ENGINE_VERSION) < 0)
      found.push({ resource, rule: `engine_version must be ${DMS_MIN_ENGINE_VERSION} or later (PostgreSQL 17)` });
  }
  for (const [name, ep] of entries(doc, 'aws_dms_endpoint')) {
    const resource = `aws_dms_endpoint.${name}`;
    const pg: Json = [ep.postgres_settings ?? {}].flat()[0] ?? {};
    if (ep.password !== undefined || ep.username !== undefined)
      found.push({ resource, rule: 'credentials must come from secrets_manager_arn, not username/password' });
    if (ep.engine_name === 'postgres' && !ep.secrets_manager_arn) found.push({ resource, rule: 'secrets_manager_arn is required' });
    if (pg.plugin_name !== undefined && !(DMS_PLUGIN_NAMES as readonly string[]).includes(pg.plugin_name))
      found.push({ resource, rule: `postgres_settings.plugin_name must be one of ${DMS_PLUGIN_NAMES.join(', ')}` });
    if (pg.map_long_varchar_as !== undefined && !(DMS_MAP_LONG_VARCHAR_AS as readonly string[]).includes(pg.map_long_varchar_as))
      found.push({ resource, rule: `postgres_settings.map_long_varchar_as must be one of ${DMS_MAP_LONG_VARCHAR_AS.join(', ')}` });
    if (ep.endpoint_type === 'source' && ep.engine_name === 'postgres') {
      if (!pg.slot_name)
        found.push({ resource, rule: "postgres_settings.slot_name must name full-load's slot (else DMS makes its own at 'now')" });
      if (pg.capture_ddls !== false) found.push({ resource, rule: 'postgres_settings.capture_ddls must be false' });
      if (pg.fail_tasks_on_lob_truncation !== true)
        found.push({ resource, rule: 'postgres_settings.fail_tasks_on_lob_truncation must be true' });
    }
    // Which server an endpoint reaches is its pgshift:server tag: every endpoint on RDS (forward target,
    // reverse source) verifies RDS's certificate.
    const server = ep.tags?.['pgshift:server'];
    if (server !== 'rds' && server !== 'source')
      found.push({ resource, rule: "tags['pgshift:server'] must say which server the endpoint reaches: rds or source" });
    if (server === 'rds' && (ep.ssl_mode !== 'verify-full' || !ep.certificate_arn))
      found.push({ resource, rule: 'an endpoint on RDS must use ssl_mode verify-full (with the RDS CA certificate)' });
  }
  for (const [name] of entries(doc, 'aws_dms_replication_task'))
    found.push({
      resource: `aws_dms_replication_task.${name}`,
      rule: 'the task is created at run time by pgshift (its start LSN is known only then; Terraform stops a running task on change)',
    });
  for (const [name] of entries(doc, 'aws_dms_replication_config'))
    found.push({
      resource: `aws_dms_replication_config.${name}`,
      rule: 'DMS Serverless cannot start CDC from a given LSN: use a replication instance',
    });
  return found;
}
