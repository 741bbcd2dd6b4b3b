/**
 * The frame every phase action runs in, in this order:
 *   1. mask every secret input (before anything can log),
 *   2. run the phase through the engine,
 *   3. write the JSON result, set the outputs, write the job summary and annotations,
 *   4. fail the step with one line when the result is a failed check, or when the engine threw.
 * Phase adapters (actions/<phase>/src/main.ts) supply only steps 2-3's phase-specific parts.
 */
import * as core from '@actions/core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { PgshiftError } from '../../src/errors.js';
import { redact } from '../../src/postgres/redact.js';
import { cancelOnSignals } from '../../src/signals.js';
import { inputText, maskSecretInputs } from './inputs.js';
import { actionsLogger } from './logger.js';
import { annotate, phaseSummary, writeSummary, type Annotation, type Phase } from './summary.js';

export interface PhaseOutcome {
  /** Outputs for chaining (names as declared in action.yml). */
  outputs: Record<string, string | number | boolean | undefined>;
  /** Markdown body of the job summary (after the title and runbook link). */
  summary: string;
  annotations?: Annotation[];
  /** One line when the phase's result means the step must fail (a FAIL check, data differs, an abort). */
  failure?: string;
  /** The typed result written as the JSON report. */
  report: unknown;
}

export interface PhaseAction {
  phase: Phase;
  title: string;
  /** `signal` fires on SIGINT/SIGTERM/SIGHUP (a cancelled job); phases that can undo take it (docs/design.md rule 12). */
  run(signal: AbortSignal): Promise<PhaseOutcome>;
}

/** Where the JSON result goes: the json-report input, else the runner's temp folder. */
export function reportPath(phase: Phase): string {
  const given = inputText('json-report');
  if (given) return resolve(given);
  return join(process.env.RUNNER_TEMP || tmpdir(), `pgshift-${phase}.json`);
}

function writeReport(path: string, report: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const json = JSON.stringify(report, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2);
  writeFileSync(path, redact(json) + '\n', { mode: 0o600 });
}

function setOutputs(outputs: PhaseOutcome['outputs']): void {
  for (const [name, value] of Object.entries(outputs)) {
    if (value === undefined) continue;
    core.setOutput(name, redact(String(value)));
  }
}

export async function runPhaseAction(action: PhaseAction): Promise<void> {
  // Step 1: nothing may log before this line.
  maskSecretInputs();
  // The same mechanism as the CLI: a cancelled job's SIGINT aborts the phase, which undoes what it started.
  const cancel = cancelOnSignals(actionsLogger());
  try {
    const outcome = await action.run(cancel.signal);
    const path = reportPath(action.phase);
    writeReport(path, outcome.report);
    setOutputs({ ...outcome.outputs, 'report-path': path });
    await writeSummary(phaseSummary(action.phase, action.title, outcome.summary));
    annotate(outcome.annotations ?? []);
    if (outcome.failure) core.setFailed(redact(outcome.failure));
  } catch (err) {
    const line = describeFailure(err);
    await writeSummary(phaseSummary(action.phase, action.title, `❌ **${action.title} stopped:** ${line}`)).catch(() => undefined);
    core.setFailed(line);
  }
  if (cancel.received()) {
    core.setFailed(`${cancel.received()} received: what this run had started was undone (see the log)`);
    // Background work the abort left (a pending PAUSE) must not keep the step alive into SIGKILL.
    process.exit(1);
  }
}

/** One redacted line for any error: PgshiftError carries its own hint; anything else is internal. */
export function describeFailure(err: unknown): string {
  if (err instanceof PgshiftError) return redact(err.oneLine());
  const message = err instanceof Error ? err.message : String(err);
  return redact(`internal error: ${message.split('\n')[0]} — rerun with ACTIONS_STEP_DEBUG=true and report it with the job log`);
}
