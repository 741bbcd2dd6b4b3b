export { installDdlCapture, removeDdlCapture, captureInstalled } from './capture.js';
export { installDdlReplay, removeDdlReplay, sourceHasDdlLog } from './replay.js';
export { freezeDdl, unfreezeDdl, ddlFrozen } from './freeze.js';
export { listDdl, resolveDdl, type DdlEntry, type DdlListing, type DdlState, type Resolution } from './log.js';
export { refreshNewTables, type RefreshResult } from './refresh.js';
export { removeDdlMachinery, ddlLeftovers, type DdlCleanup } from './cleanup.js';
export { DDL_MODES, type DdlMode } from './mode.js';
