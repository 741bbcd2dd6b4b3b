/**
 * `--engine native|dms` (and `--reverse-engine`) with the AWS DMS options, shared by full-load, preflight,
 * cdc, cutover, rollback and cleanup. The ARNs are the outputs of infra stack 03-dms; each also comes
 * from its PGSHIFT_DMS_* variable, which is how the workflows pass them.
 */
import { type Command, Option } from 'commander';
import { dmsClients } from '../aws/dms.js';
import { ENGINE_NAMES, type EngineName, type ReplicationEngine } from '../engine/replication/engine.js';
import { DmsEngine } from '../engine/replication/dms.js';
import { NativeEngine } from '../engine/replication/native.js';
import { usageError } from '../errors.js';
import type { CommandContext } from './context.js';

export interface EngineFlags {
  engine: EngineName;
  reverseEngine?: EngineName;
  region?: string;
  dmsInstanceArn?: string;
  dmsSourceEndpointArn?: string;
  dmsTargetEndpointArn?: string;
  dmsReverseSourceEndpointArn?: string;
  dmsReverseTargetEndpointArn?: string;
  dmsUser?: string;
}

export function addEngineOptions(cmd: Command, opts: { reverse?: boolean; dmsApi?: boolean } = {}): Command {
  cmd.addOption(
    new Option('--engine <engine>', 'what replicates source -> target: native logical replication, or an AWS DMS task (experiment 03)')
      .choices([...ENGINE_NAMES])
      .default('native')
      .env('PGSHIFT_ENGINE'),
  );
  if (opts.reverse)
    cmd.addOption(
      new Option('--reverse-engine <engine>', 'what replicates target -> source after cutover (rollback without loss)')
        .choices([...ENGINE_NAMES])
        .default('native')
        .env('PGSHIFT_REVERSE_ENGINE'),
    );
  if (opts.dmsApi === false) return cmd;
  return cmd
    .addOption(new Option('--region <region>', 'AWS region of the DMS resources (default: $AWS_REGION)'))
    .addOption(
      new Option('--dms-instance-arn <arn>', 'DMS replication instance (03-dms output replication_instance_arn)').env(
        'PGSHIFT_DMS_INSTANCE_ARN',
      ),
    )
    .addOption(new Option('--dms-source-endpoint-arn <arn>', 'DMS endpoint reading the source').env('PGSHIFT_DMS_SOURCE_ENDPOINT_ARN'))
    .addOption(new Option('--dms-target-endpoint-arn <arn>', 'DMS endpoint writing RDS').env('PGSHIFT_DMS_TARGET_ENDPOINT_ARN'))
    .addOption(
      new Option('--dms-reverse-source-endpoint-arn <arn>', 'DMS endpoint reading RDS (--reverse-engine dms)').env(
        'PGSHIFT_DMS_REVERSE_SOURCE_ENDPOINT_ARN',
      ),
    )
    .addOption(
      new Option('--dms-reverse-target-endpoint-arn <arn>', 'DMS endpoint writing the source (--reverse-engine dms)').env(
        'PGSHIFT_DMS_REVERSE_TARGET_ENDPOINT_ARN',
      ),
    )
    .addOption(
      new Option('--dms-user <roles>', 'comma-separated roles the DMS endpoints log in as (spared by the write freeze)').env(
        'PGSHIFT_DMS_USER',
      ),
    );
}

/** The engines the flags ask for; DMS options are checked only when DMS is used. */
export function enginesFrom(flags: EngineFlags, ctx: CommandContext): { engine: ReplicationEngine; reverseEngine: ReplicationEngine } {
  const make = (name: EngineName): ReplicationEngine => (name === 'dms' ? dmsEngine(flags, ctx) : new NativeEngine());
  return { engine: make(flags.engine), reverseEngine: make(flags.reverseEngine ?? 'native') };
}

function dmsEngine(flags: EngineFlags, ctx: CommandContext): DmsEngine {
  const need = (value: string | undefined, flag: string, env: string): string => {
    if (!value) throw usageError(`--engine dms needs ${flag}`, `pass ${flag} or set ${env} (an output of infra stack 03-dms)`);
    return value;
  };
  const reverse =
    flags.dmsReverseSourceEndpointArn && flags.dmsReverseTargetEndpointArn
      ? { source: flags.dmsReverseSourceEndpointArn, target: flags.dmsReverseTargetEndpointArn }
      : undefined;
  return new DmsEngine({
    clients: dmsClients({ region: flags.region }),
    replicationInstanceArn: need(flags.dmsInstanceArn, '--dms-instance-arn', 'PGSHIFT_DMS_INSTANCE_ARN'),
    endpoints: {
      forward: {
        source: need(flags.dmsSourceEndpointArn, '--dms-source-endpoint-arn', 'PGSHIFT_DMS_SOURCE_ENDPOINT_ARN'),
        target: need(flags.dmsTargetEndpointArn, '--dms-target-endpoint-arn', 'PGSHIFT_DMS_TARGET_ENDPOINT_ARN'),
      },
      reverse,
    },
    users: need(flags.dmsUser, '--dms-user', 'PGSHIFT_DMS_USER')
      .split(',')
      .map((u) => u.trim())
      .filter(Boolean),
    migrationName: ctx.names.name,
    tags: { ManagedBy: 'pgshift', Migration: ctx.names.name },
    log: ctx.log,
  });
}
