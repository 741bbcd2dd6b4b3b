export { startCdc, type CdcStrategy, type StartCdcOptions, type StartCdcResult } from './start.js';
export {
  cdcStatus,
  watchCdc,
  GiB,
  type CdcStatus,
  type CdcStatusOptions,
  type CdcSample,
  type WatchOptions,
  type Finding,
  type TableSync,
  type TableSyncState,
  type Verdict,
  type SubscriptionState,
} from './status.js';
export { stopCdc, type StopCdcOptions, type StopCdcResult, type Leftover } from './stop.js';
export {
  DEFAULT_CDC_OPTIONS,
  chooseSubscriptionOptions,
  type CdcOptions,
  type ChosenOption,
  type SkippedOption,
  type ServerVersions,
} from './subscription-options.js';
export { fullIdentityTables, createHelperIndexes, helperIndexName, type FullIdentityTable, type HelperIndex } from './replica-identity.js';
