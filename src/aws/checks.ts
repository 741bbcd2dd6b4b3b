/**
 * A preflight-style finding about the AWS side, in the same shape as the engine's preflight checks,
 * so the preflight phase can list them next to its database checks.
 */
export type CheckStatus = 'PASS' | 'WARN' | 'FAIL';

export interface AwsCheck {
  id: string;
  status: CheckStatus;
  /** What was found, in one line. */
  detail: string;
  /** The exact command that fixes a WARN/FAIL; absent on PASS. */
  remediation?: string;
}
