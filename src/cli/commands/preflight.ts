import { Command, Option } from 'commander';
import { runPreflight } from '../../engine/preflight/preflight.js';
import { action, addConnectionOptions, emit, makeContext, type GlobalOptions } from '../context.js';
import { addEngineOptions, type EngineFlags } from '../engine-options.js';
import { renderPreflight } from '../render.js';

export function preflightCommand(): Command {
  const cmd = new Command('preflight').description('check source, target and the path between them (PASS/WARN/FAIL with the fix)');
  addEngineOptions(addConnectionOptions(cmd, { source: true, target: true, sourceFromTarget: true }), { dmsApi: false })
    .addOption(new Option('--clean', 'a non-empty target will be emptied by full-load --clean (WARN instead of FAIL)'))
    .addOption(
      new Option('--dms-subnet-cidrs <cidrs>', 'comma-separated subnets of the DMS replication instance (pg_hba check, --engine dms)').env(
        'PGSHIFT_DMS_SUBNET_CIDRS',
      ),
    );
  return cmd.action(
    action(async (flags: GlobalOptions & Pick<EngineFlags, 'engine'> & { clean?: boolean; dmsSubnetCidrs?: string }) => {
      const ctx = makeContext(flags);
      const report = await runPreflight({
        source: ctx.source(),
        target: ctx.target(),
        sourceFromTarget: ctx.sourceFromTarget(),
        names: ctx.names,
        clean: flags.clean,
        engine: flags.engine,
        dmsSubnetCidrs: flags.dmsSubnetCidrs
          ?.split(',')
          .map((c) => c.trim())
          .filter(Boolean),
        log: ctx.log,
      });
      emit(ctx, report, () => renderPreflight(report));
      return report.ok ? 0 : 1;
    }),
  );
}
