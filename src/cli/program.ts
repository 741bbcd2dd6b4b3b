/** Every command of `pgshift`, assembled; main.ts runs it. Separate so tests can read the commands without running one. */
import { Command } from 'commander';
import { cdcCommand } from './commands/cdc.js';
import { cleanupCommand } from './commands/cleanup.js';
import { ddlTopCommand } from './commands/ddl.js';
import { fullLoadCommand } from './commands/full-load.js';
import { preflightCommand } from './commands/preflight.js';
import { recoverCommand } from './commands/recover.js';
import { rehearseCommand } from './commands/rehearse.js';
import { statusCommand } from './commands/status.js';
import { cutoverCommand, rollbackCommand } from './commands/switchover.js';
import { verifyCommand } from './commands/verify.js';

export function buildProgram(): Command {
  const program = new Command('pgshift')
    .description(
      'Move a live PostgreSQL database to Amazon RDS with near-zero downtime.\nConnections come from PGSHIFT_SOURCE_URL and PGSHIFT_TARGET_URL (or --source-url/--target-url).',
    )
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  program.addCommand(preflightCommand());
  program.addCommand(fullLoadCommand());
  program.addCommand(cdcCommand());
  program.addCommand(verifyCommand());
  program.addCommand(cutoverCommand());
  program.addCommand(rollbackCommand());
  program.addCommand(recoverCommand());
  program.addCommand(statusCommand());
  program.addCommand(cleanupCommand());
  program.addCommand(ddlTopCommand());
  program.addCommand(rehearseCommand());
  // addCommand() passes no settings down (only .command() does): without this a subcommand's bad flag
  // value (a choice out of range) made commander exit 1 itself, where the CLI's contract says usage is 2.
  const rejectLikeTheProgram = (c: Command): void => {
    c.exitOverride().showHelpAfterError();
    for (const sub of c.commands) rejectLikeTheProgram(sub);
  };
  for (const c of program.commands) rejectLikeTheProgram(c);
  return program;
}
