/**
 * `pgshift` — the engine from a terminal. One file per command under commands/, assembled in
 * program.ts. Unknown commands print help and exit 2.
 */
import { CommanderError } from 'commander';
import { signalReceived } from '../signals.js';
import { reportFailure } from './context.js';
import { buildProgram } from './program.js';

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
