export { runVerify, type VerifyOptions } from './verify.js';
export {
  verifyExitCode,
  type VerifyReport,
  type VerifyMode,
  type VerifySummary,
  type TableVerdict,
  type TableVerdictKind,
  type RowDifferences,
  type RowKey,
  type SequenceComparison,
  type SequenceStatus,
  type MaterializedViewComparison,
} from './report.js';
export {
  snapshotSchema,
  diffSchemas,
  schemaChangesSince,
  type SchemaSnapshot,
  type SchemaDifference,
  type SchemaChange,
  type SchemaObjectKind,
} from './schema-snapshot.js';
export { PINNED_SETTINGS } from './session.js';
