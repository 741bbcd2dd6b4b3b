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

/** The engines the flags ask for; DMS options are checked only when DMS is used, before anything runs. */
export function enginesFrom(flags: EngineFlags, ctx: CommandContext): { engine: ReplicationEngine; reverseEngine: ReplicationEngine } {
  const reverseName = flags.reverseEngine ?? 'native';
  const dms = flags.engine === 'dms' || reverseName === 'dms' ? dmsEngine(flags, ctx, reverseName === 'dms') : undefined;
  return {
    engine: flags.engine === 'dms' ? dms! : new NativeEngine(),
    reverseEngine: reverseName === 'dms' ? dms! : new NativeEngine(),
  };
}

function dmsEngine(flags: EngineFlags, ctx: CommandContext, reverse: boolean): DmsEngine {
  const need = (value: string | undefined, flag: string, env: string, why = '--engine dms'): string => {
    if (!value) throw usageError(`${why} needs ${flag}`, `pass ${flag} or set ${env} (an output of infra stack 03-dms)`);
    return value;
  };
  // A missing reverse endpoint would surface only after the switch, when replication back must start: refused here.
  return new DmsEngine({
    clients: dmsClients({ region: flags.region }),
    replicationInstanceArn: need(flags.dmsInstanceArn, '--dms-instance-arn', 'PGSHIFT_DMS_INSTANCE_ARN'),
    endpoints: {
      forward:
        flags.engine === 'dms'
          ? {
              source: need(flags.dmsSourceEndpointArn, '--dms-source-endpoint-arn', 'PGSHIFT_DMS_SOURCE_ENDPOINT_ARN'),
              target: need(flags.dmsTargetEndpointArn, '--dms-target-endpoint-arn', 'PGSHIFT_DMS_TARGET_ENDPOINT_ARN'),
            }
          : undefined,
      reverse: reverse
        ? {
            source: need(
              flags.dmsReverseSourceEndpointArn,
              '--dms-reverse-source-endpoint-arn',
              'PGSHIFT_DMS_REVERSE_SOURCE_ENDPOINT_ARN',
              '--reverse-engine dms',
            ),
            target: need(
              flags.dmsReverseTargetEndpointArn,
              '--dms-reverse-target-endpoint-arn',
              'PGSHIFT_DMS_REVERSE_TARGET_ENDPOINT_ARN',
              '--reverse-engine dms',
            ),
          }
        : undefined,
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
