/**
 * The `engine` input (native | dms) and the AWS DMS inputs, shared by the cdc, cutover, rollback and
 * cleanup actions: the same names and defaults as the CLI's --engine options (src/cli/engine-options.ts).
 */
import { dmsClients } from '../../src/aws/dms.js';
import { DmsEngine } from '../../src/engine/replication/dms.js';
import { ENGINE_NAMES, type EngineName, type ReplicationEngine } from '../../src/engine/replication/engine.js';
import { NativeEngine } from '../../src/engine/replication/native.js';
import { usageError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import { choice, text } from './inputs.js';

export function engineName(input: 'engine' | 'reverse-engine' = 'engine'): EngineName {
  return choice<EngineName>(input, ENGINE_NAMES, 'native');
}

/** The forward and reverse engines the inputs ask for; DMS inputs are required only when DMS is used. */
export function enginesFromInputs(migrationName: string, log: Logger): { engine: ReplicationEngine; reverseEngine: ReplicationEngine } {
  const make = (name: EngineName) => (name === 'dms' ? dmsEngineFromInputs(migrationName, log) : new NativeEngine());
  return { engine: make(engineName('engine')), reverseEngine: make(text('reverse-engine') ? engineName('reverse-engine') : 'native') };
}

export function dmsEngineFromInputs(migrationName: string, log: Logger): DmsEngine {
  const need = (name: string): string => {
    const v = text(name);
    if (!v)
      throw usageError(`engine: dms needs the input ${name}`, 'pass it from the outputs of infra stack 03-dms (repository variables)');
    return v;
  };
  const reverseSource = text('dms-reverse-source-endpoint-arn');
  const reverseTarget = text('dms-reverse-target-endpoint-arn');
  return new DmsEngine({
    clients: dmsClients({ region: text('aws-region') }),
    replicationInstanceArn: need('dms-instance-arn'),
    endpoints: {
      forward: { source: need('dms-source-endpoint-arn'), target: need('dms-target-endpoint-arn') },
      reverse: reverseSource && reverseTarget ? { source: reverseSource, target: reverseTarget } : undefined,
    },
    users: need('dms-user')
      .split(',')
      .map((u) => u.trim())
      .filter(Boolean),
    migrationName,
    tags: { ManagedBy: 'pgshift', Migration: migrationName },
    log,
  });
}
