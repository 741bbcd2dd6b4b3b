/**
 * `--engine native|dms` (and `--reverse-engine`) with the AWS DMS options, shared by full-load, preflight,
 * cdc, cutover, rollback and cleanup. Flags, defaults and PGSHIFT_DMS_* variables come from the option
 * table; which engine they make is decided once, in engine/replication/choose.ts (the actions use it too).
 */
import type { Command } from 'commander';
import { chooseEngines, type ChosenEngines } from '../engine/replication/choose.js';
import { usageError } from '../errors.js';
import { OPTIONS, type OptionName } from '../options/index.js';
import type { CommandContext } from './context.js';
import { flag, flagValue } from './flags.js';

const DMS_API_OPTIONS = [
  'aws-region',
  'dms-instance-arn',
  'dms-source-endpoint-arn',
  'dms-target-endpoint-arn',
  'dms-reverse-source-endpoint-arn',
  'dms-reverse-target-endpoint-arn',
  'dms-user',
] as const satisfies readonly OptionName[];

/** `dmsApi: false`: the command only needs to know which engine (full-load's slot plugin, preflight's checks). */
export function addEngineOptions(cmd: Command, opts: { reverse?: boolean; dmsApi?: boolean } = {}): Command {
  cmd.addOption(flag('engine'));
  if (opts.reverse) cmd.addOption(flag('reverse-engine'));
  if (opts.dmsApi === false) return cmd;
  for (const name of DMS_API_OPTIONS) cmd.addOption(flag(name));
  return cmd;
}

/** The engines the flags ask for; DMS flags are checked only when DMS is used. */
export function enginesFrom(flags: object, ctx: CommandContext): ChosenEngines {
  return chooseEngines(
    (name) => flagValue(flags, name),
    ctx.names.name,
    ctx.log,
    (name, neededBy) => {
      const env = (OPTIONS[name] as { env?: string }).env;
      return usageError(
        `--${neededBy} dms needs --${name}`,
        `pass --${name}${env ? ` or set ${env}` : ''} (an output of infra stack 03-dms)`,
      );
    },
  );
}
