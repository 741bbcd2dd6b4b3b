/** cleanup: drop what this migration made on both sides (subscriptions, publications, slots) and list what is left. */
import { Command } from 'commander';
import { runCleanup } from '../../engine/cleanup/cleanup.js';
import { action, addConnectionOptions, emit, makeContext, type GlobalOptions } from '../context.js';
import { renderCleanup } from '../render.js';
import { addEngineOptions, enginesFrom } from '../engine-options.js';

export function cleanupCommand(): Command {
  const cmd = addConnectionOptions(
    new Command('cleanup').description(
      'drop every subscription, publication and slot this migration made, on both sides; list what is left',
    ),
  );
  addEngineOptions(cmd, { reverse: true });
  return cmd.action(
    action(async (flags: GlobalOptions) => {
      const ctx = makeContext(flags);
      const result = await runCleanup({
        source: ctx.source(),
        target: ctx.target(),
        names: ctx.names,
        ...enginesFrom(flags, ctx),
        log: ctx.log,
      });
      emit(ctx, result, () => renderCleanup(result));
      return result.ok ? 0 : 1;
    }),
  );
}
