import { Command } from 'commander';
import { unfreezeAfterCutover } from '../../engine/ddl/index.js';
import { action, addConnectionOptions, emit, makeContext, type GlobalOptions } from '../context.js';
import { flag, flagValue } from '../flags.js';

/** `pgshift ddl unfreeze`: lift the DDL freeze cutover leaves on the new primary (RDS). */
export function ddlTopCommand(): Command {
  const ddl = new Command('ddl').description('the DDL freeze on the new primary after cutover');
  const unfreeze = new Command('unfreeze').description(
    'allow DDL on the new primary again; a schema change there breaks the reverse replication, so rollback is no longer lossless',
  );
  addConnectionOptions(unfreeze, { target: true }).addOption(flag('accept-no-rollback'));
  unfreeze.action(
    action(async (flags: GlobalOptions) => {
      const ctx = makeContext(flags);
      const result = await unfreezeAfterCutover({
        server: ctx.target(),
        acceptNoRollback: Boolean(flagValue(flags, 'accept-no-rollback')),
        log: ctx.log,
      });
      emit(ctx, result, () => (result.lifted ? 'DDL unfrozen on the target' : 'no DDL freeze on the target'));
      return 0;
    }),
  );
  return ddl.addCommand(unfreeze);
}
