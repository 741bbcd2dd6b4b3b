import { Command } from 'commander';
import { flag, flagValue } from '../flags.js';
import { runPreflight } from '../../engine/preflight/preflight.js';
import { action, addConnectionOptions, emit, makeContext, type GlobalOptions } from '../context.js';
import { addEngineOptions } from '../engine-options.js';
import { renderPreflight } from '../render.js';

export function preflightCommand(): Command {
  const cmd = new Command('preflight').description('check source, target and the path between them (PASS/WARN/FAIL with the fix)');
  addEngineOptions(addConnectionOptions(cmd, { source: true, target: true, sourceFromTarget: true }), { dmsApi: false })
    .addOption(flag('clean'))
    .addOption(flag('dms-subnet-cidrs'));
  return cmd.action(
    action(async (flags: GlobalOptions) => {
      const ctx = makeContext(flags);
      const report = await runPreflight({
        source: ctx.source(),
        target: ctx.target(),
        sourceFromTarget: ctx.sourceFromTarget(),
        names: ctx.names,
        clean: flagValue(flags, 'clean'),
        engine: flagValue(flags, 'engine'),
        dmsSubnetCidrs: flagValue(flags, 'dms-subnet-cidrs'),
        log: ctx.log,
      });
      emit(ctx, report, () => renderPreflight(report));
      return report.ok ? 0 : 1;
    }),
  );
}
