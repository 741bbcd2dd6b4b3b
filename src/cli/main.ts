/**
 * `pgshift` — the engine from a terminal. One file per command under commands/; this file
 * only assembles them. Unknown commands print help and exit 2.
 */
import { Command, CommanderError } from 'commander';
import { cdcCommand } from './commands/cdc.js';
import { fullLoadCommand } from './commands/full-load.js';
import { preflightCommand } from './commands/preflight.js';
import { rehearseCommand } from './commands/rehearse.js';
import { cleanupCommand } from './commands/cleanup.js';
import { recoverCommand } from './commands/recover.js';
import { statusCommand } from './commands/status.js';
import { cutoverCommand, rollbackCommand } from './commands/switchover.js';
import { signalReceived } from '../signals.js';
import { ddlTopCommand } from './commands/ddl.js';
import { verifyCommand } from './commands/verify.js';
import { reportFailure } from './context.js';

export function buildProgram(): Command {
  const program = new Command('pgshift')
    .description(
      'Move a live PostgreSQL database to Amazon RDS with near-zero downtime.\nConnections come from PGSHIFT_SOURCE_URL and PGSHIFT_TARGET_URL (or --source/--target).',
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
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are not failures; anything else commander rejects is a usage error.
      return err.exitCode === 0 ? 0 : 2;
    }
    return reportFailure(err);
  }
}

process.exitCode = await main(process.argv);
// After a signal the abort path has run; work it left in the background (a pending PAUSE, a
// read-only query) must not keep the process alive into GitHub's SIGKILL.
if (signalReceived()) process.exit(process.exitCode || 1);
