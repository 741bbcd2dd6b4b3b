/**
 * The replication engines the options ask for (option table: engine, reverse-engine, aws-region,
 * dms-*). One function for the CLI and the actions: each passes a reader for its own flags or
 * inputs and the error for a missing DMS option in its own words (a flag and its variable, an input).
 * The DMS options are required only when an engine is dms.
 */
import { dmsClients } from '../../aws/dms.js';
import type { PgshiftError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { OptionName, OptionValue } from '../../options/index.js';
import { DmsEngine } from './dms.js';
import type { ReplicationEngine } from './engine.js';
import { NativeEngine } from './native.js';

/** Reads one option as the caller's adapter has it (a CLI flag, an action input), parsed by the table. */
export type OptionReader = <N extends OptionName>(name: N) => OptionValue<N> | undefined;

export interface ChosenEngines {
  engine: ReplicationEngine;
  reverseEngine: ReplicationEngine;
}

export function chooseEngines(
  read: OptionReader,
  migrationName: string,
  log: Logger,
  missing: (name: OptionName) => PgshiftError,
): ChosenEngines {
  const make = (name: 'native' | 'dms' | undefined): ReplicationEngine =>
    name === 'dms' ? dmsEngine(read, migrationName, log, missing) : new NativeEngine();
  return { engine: make(read('engine')), reverseEngine: make(read('reverse-engine')) };
}

function dmsEngine(read: OptionReader, migrationName: string, log: Logger, missing: (name: OptionName) => PgshiftError): DmsEngine {
  const need = <N extends 'dms-instance-arn' | 'dms-source-endpoint-arn' | 'dms-target-endpoint-arn' | 'dms-user'>(
    name: N,
  ): NonNullable<OptionValue<N>> => {
    const value = read(name);
    if (value === undefined || value.length === 0) throw missing(name);
    return value as NonNullable<OptionValue<N>>;
  };
  const reverseSource = read('dms-reverse-source-endpoint-arn');
  const reverseTarget = read('dms-reverse-target-endpoint-arn');
  return new DmsEngine({
    clients: dmsClients({ region: read('aws-region') }),
    replicationInstanceArn: need('dms-instance-arn'),
    endpoints: {
      forward: { source: need('dms-source-endpoint-arn'), target: need('dms-target-endpoint-arn') },
      reverse: reverseSource && reverseTarget ? { source: reverseSource, target: reverseTarget } : undefined,
    },
    users: need('dms-user'),
    migrationName,
    tags: { ManagedBy: 'pgshift', Migration: migrationName },
    log,
  });
}
