/**
 * Which CREATE SUBSCRIPTION options the two servers support. An option one side does not know
 * either fails the statement or is silently ignored by the other side, so each one is
 * chosen from both versions and the ones left out are reported with the reason.
 */
export interface CdcOptions {
  /** Binary transfer of column values (faster for bytea, numeric, timestamps; needs send/receive functions on both sides). */
  binary: boolean;
  /**
   * Stream big in-progress transactions to the target as they run. Without it, a transaction larger
   * than logical_decoding_work_mem (64 MB) is decoded into spill files on the *source* until it
   * commits — on a 30 GB source disk, next to the WAL the slot already holds. With it, the spill
   * lives on the target, and from PostgreSQL 16 on both sides it is applied in parallel while it runs.
   */
  streaming: boolean;
  /** An apply error disables the subscription (visible in cdc status) instead of retrying in a loop. */
  disableOnError: boolean;
  /** origin = none: do not forward changes that themselves came from replication (no loops once reverse replication runs). */
  originNone: boolean;
}

export const DEFAULT_CDC_OPTIONS: CdcOptions = { binary: false, streaming: true, disableOnError: false, originNone: true };

export interface ChosenOption {
  option: string;
  value: string;
}

export interface SkippedOption {
  option: string;
  reason: string;
}

/** `server_version_num` of both sides, e.g. 150010 and 170006. */
export interface ServerVersions {
  source: number;
  target: number;
}

export function chooseSubscriptionOptions(wanted: CdcOptions, v: ServerVersions): { chosen: ChosenOption[]; skipped: SkippedOption[] } {
  const chosen: ChosenOption[] = [];
  const skipped: SkippedOption[] = [];
  const both = (n: number) => v.source >= n && v.target >= n;
  const major = (n: number) => Math.floor(n / 10000);

  if (wanted.binary) {
    if (both(140000)) chosen.push({ option: 'binary', value: 'true' });
    else skipped.push({ option: 'binary', reason: 'binary transfer needs PostgreSQL 14 on both sides' });
  }
  if (wanted.streaming) {
    // parallel apply needs logical replication protocol 4, which only 16+ publishers speak.
    if (both(160000)) chosen.push({ option: 'streaming', value: 'parallel' });
    else if (both(140000)) chosen.push({ option: 'streaming', value: 'on' });
    else skipped.push({ option: 'streaming', reason: 'streaming of in-progress transactions needs PostgreSQL 14 on both sides' });
  }
  if (wanted.disableOnError) {
    if (v.target >= 150000) chosen.push({ option: 'disable_on_error', value: 'true' });
    else skipped.push({ option: 'disable_on_error', reason: `the target is PostgreSQL ${major(v.target)}; disable_on_error needs 15` });
  }
  if (wanted.originNone) {
    // The subscriber sends the origin filter only to 16+ publishers; on an older source it would be a silent no-op.
    if (both(160000)) chosen.push({ option: 'origin', value: 'none' });
    else
      skipped.push({
        option: 'origin',
        reason: `origin = none needs PostgreSQL 16 on both sides (source ${major(v.source)}, target ${major(v.target)})`,
      });
  }
  return { chosen, skipped };
}
