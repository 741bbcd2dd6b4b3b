/**
 * How phases tell a person what is happening. Phases never print; the CLI writes these lines
 * to stderr (stdout stays for --json), the actions route them to the job log.
 */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  /** A progress line that may be rate-limited or overwritten by the renderer. */
  progress(message: string): void;
}

export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, progress: () => undefined };

export function stderrLogger(opts: { quiet?: boolean } = {}): Logger {
  const write = (prefix: string) => (message: string) => {
    if (!opts.quiet) process.stderr.write(`${prefix}${message}\n`);
  };
  return { info: write(''), warn: write('WARN '), progress: write('  ') };
}
