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

/** The forward and reverse engines the inputs ask for; DMS inputs are required only for the directions DMS serves. */
export function enginesFromInputs(migrationName: string, log: Logger): { engine: ReplicationEngine; reverseEngine: ReplicationEngine } {
  const forwardName = engineName('engine');
  const reverseName = text('reverse-engine') ? engineName('reverse-engine') : 'native';
  const dms =
    forwardName === 'dms' || reverseName === 'dms'
      ? dmsEngineFromInputs(migrationName, log, { forward: forwardName === 'dms', reverse: reverseName === 'dms' })
      : undefined;
  return {
    engine: forwardName === 'dms' ? dms! : new NativeEngine(),
    reverseEngine: reverseName === 'dms' ? dms! : new NativeEngine(),
  };
}

export function dmsEngineFromInputs(
  migrationName: string,
  log: Logger,
  directions: { forward: boolean; reverse: boolean } = { forward: true, reverse: false },
): DmsEngine {
  const need = (name: string, why = 'engine: dms'): string => {
    const v = text(name);
    if (!v) throw usageError(`${why} needs the input ${name}`, 'pass it from the outputs of infra stack 03-dms (repository variables)');
    return v;
  };
  // A missing reverse endpoint would surface only after the switch, when replication back must start: refused here.
  return new DmsEngine({
    clients: dmsClients({ region: text('aws-region') }),
    replicationInstanceArn: need('dms-instance-arn'),
    endpoints: {
      forward: directions.forward ? { source: need('dms-source-endpoint-arn'), target: need('dms-target-endpoint-arn') } : undefined,
      reverse: directions.reverse
        ? {
            source: need('dms-reverse-source-endpoint-arn', 'reverse-engine: dms'),
            target: need('dms-reverse-target-endpoint-arn', 'reverse-engine: dms'),
          }
        : undefined,
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
