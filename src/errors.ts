/**
 * Every failure pgshift reports is one line that says what went wrong and what to do next.
 * The exit code follows the CLI contract: 1 = a check failed or data differs,
 * 2 = usage, connection or internal error.
 */
export type FailureKind = 'check' | 'usage' | 'connection' | 'internal';

export class PgshiftError extends Error {
  readonly kind: FailureKind;
  /** What the operator should do next; appended to the message when printed. */
  readonly hint?: string;

  constructor(kind: FailureKind, message: string, hint?: string) {
    super(message);
    this.name = 'PgshiftError';
    this.kind = kind;
    this.hint = hint;
  }

  get exitCode(): number {
    return this.kind === 'check' ? 1 : 2;
  }

  /** The single line shown to a person: message, then the next step. */
  oneLine(): string {
    const text = this.hint ? `${this.message} — ${this.hint}` : this.message;
    return text.replace(/\s*\n\s*/g, ' ');
  }
}

export const usageError = (message: string, hint?: string) => new PgshiftError('usage', message, hint);
export const connectionError = (message: string, hint?: string) => new PgshiftError('connection', message, hint);
export const checkFailed = (message: string, hint?: string) => new PgshiftError('check', message, hint);
