/**
 * Which schemas hold the application's objects. One definition, used by every query that lists
 * tables, sequences, roles' objects or schema differences, so that preflight, full-load, CDC and
 * verify agree on what "the database" is.
 */

/**
 * pgshift's own schema: DDL capture (docs/design.md rule 6) keeps its queue table and functions
 * here, on the source and, for replay and the reverse direction, on the target. It is pgshift's
 * bookkeeping, not application data: it is not copied as a table, compared, or counted as a
 * non-empty target — the DDL machinery creates and removes it itself.
 */
export const PGSHIFT_SCHEMA = '_pgshift';

/**
 * AWS DMS's control schema (`--engine dms`): DMS keeps its apply-exception and status tables here on
 * the database it writes to, and cleanup drops it. Like `_pgshift` it is the tool's bookkeeping: verify
 * would otherwise report its tables as "only on the target".
 */
export const DMS_CONTROL_SCHEMA = 'awsdms_control';

/**
 * SQL predicate: `column` (a schema name) is not a system schema. Every name starting `pg_` is
 * reserved for the system (pg_catalog, pg_toast, pg_temp_N, pg_toast_temp_N); with
 * information_schema, that is all of them.
 */
export const notSystemSchema = (column = 'n.nspname'): string =>
  `${column} NOT IN ('pg_catalog', 'information_schema') AND ${column} NOT LIKE 'pg\\_%'`;

/** SQL predicate: `column` (a schema name) is an application schema — not a system schema, not pgshift's or DMS's. */
export const applicationSchema = (column = 'n.nspname'): string =>
  `${notSystemSchema(column)} AND ${column} NOT IN ('${PGSHIFT_SCHEMA}', '${DMS_CONTROL_SCHEMA}')`;
