/**
 * The replication engines the options ask for (option table: engine, reverse-engine, aws-region,
 * dms-*). One function for the CLI and the actions: each passes a reader for its own flags or
 * inputs and the error for a missing DMS option in its own words (a flag and its variable, an input).
 * The DMS options are required only when an engine is dms, the endpoints only for the directions it serves.
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

/** Which engine option made the DMS requirement: the error names it (`--reverse-engine dms needs ...`). */
export type EngineOption = 'engine' | 'reverse-engine';

export function chooseEngines(
  read: OptionReader,
  migrationName: string,
  log: Logger,
  missing: (name: OptionName, neededBy: EngineOption) => PgshiftError,
): ChosenEngines {
  const forward = read('engine') === 'dms';
  const reverse = read('reverse-engine') === 'dms';
  // One DMS engine serves both directions when both are dms; it needs the endpoints of each direction it serves.
  const dms = forward || reverse ? dmsEngine(read, migrationName, log, missing, { forward, reverse }) : undefined;
  return { engine: forward ? dms! : new NativeEngine(), reverseEngine: reverse ? dms! : new NativeEngine() };
}

function dmsEngine(
  read: OptionReader,
  migrationName: string,
  log: Logger,
  missing: (name: OptionName, neededBy: EngineOption) => PgshiftError,
  serves: { forward: boolean; reverse: boolean },
): DmsEngine {
  const need = <N extends 'dms-instance-arn' | `dms-${'' | 'reverse-'}${'source' | 'target'}-endpoint-arn` | 'dms-user'>(
    name: N,
    neededBy: EngineOption = serves.forward ? 'engine' : 'reverse-engine',
  ): NonNullable<OptionValue<N>> => {
    const value = read(name);
    if (value === undefined || value.length === 0) throw missing(name, neededBy);
    return value as NonNullable<OptionValue<N>>;
  };
  // Checked here, before anything runs: a missing reverse endpoint would otherwise surface only after the
  // switch, when replication back must start.
  return new DmsEngine({
    clients: dmsClients({ region: read('aws-region') }),
    replicationInstanceArn: need('dms-instance-arn'),
    endpoints: {
      forward: serves.forward ? { source: need('dms-source-endpoint-arn'), target: need('dms-target-endpoint-arn') } : undefined,
      reverse: serves.reverse
        ? {
            source: need('dms-reverse-source-endpoint-arn', 'reverse-engine'),
            target: need('dms-reverse-target-endpoint-arn', 'reverse-engine'),
          }
        : undefined,
    },
    users: need('dms-user'),
    migrationName,
    tags: { ManagedBy: 'pgshift', Migration: migrationName },
    log,
  });
}
