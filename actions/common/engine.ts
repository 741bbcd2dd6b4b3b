/**
 * The `engine` input (native | dms) and the AWS DMS inputs, shared by the cdc, cutover, rollback and
 * cleanup actions: names and defaults from the option table, the engines made by the same function as
 * the CLI's (src/engine/replication/choose.ts).
 */
import { chooseEngines, type ChosenEngines } from '../../src/engine/replication/choose.js';
import type { DmsEngine } from '../../src/engine/replication/dms.js';
import { usageError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import { input } from './inputs.js';

export function engineName(name: 'engine' | 'reverse-engine' = 'engine'): 'native' | 'dms' {
  return input(name)!;
}

/** The forward and reverse engines the inputs ask for; DMS inputs are required only when DMS is used. */
export function enginesFromInputs(migrationName: string, log: Logger): ChosenEngines {
  return chooseEngines(input, migrationName, log, (name, neededBy) =>
    usageError(
      `${neededBy}: dms needs the input ${name}`,
      'pass it from the outputs of infra stack 03-dms (repository variables PGSHIFT_DMS_*)',
    ),
  );
}

/** The forward engine when the step runs with engine dms. */
export function dmsEngineFromInputs(migrationName: string, log: Logger): DmsEngine {
  return enginesFromInputs(migrationName, log).engine as DmsEngine;
}
