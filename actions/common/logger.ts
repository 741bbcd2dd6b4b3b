/**
 * The engine's Logger routed to the job log. Every line goes through redact() as a second
 * guard behind the runner's masking: a URL pgshift did not know about is still reduced to
 * host:port/db.
 */
import * as core from '@actions/core';
import { redact } from '../../src/postgres/redact.js';
import type { Logger } from '../../src/log/logger.js';

export function actionsLogger(): Logger {
  return {
    info: (message) => core.info(redact(message)),
    // Warnings become annotations on the run, where a person looks first.
    warn: (message) => core.warning(redact(message)),
    progress: (message) => core.info(`  ${redact(message)}`),
  };
}

/** Run `fn` inside a collapsible log group, so long progress output does not bury the result. */
export async function group<T>(title: string, fn: () => Promise<T>): Promise<T> {
  return core.group(redact(title), fn);
}
