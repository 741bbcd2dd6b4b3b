/**
 * DDL replay on the target (docs/design.md rule 6). The subscription writes each captured row
 * into the target's `_pgshift.ddl_log`; an AFTER INSERT trigger set ENABLE REPLICA fires only in
 * the apply worker, so the statement runs inside the apply worker's own transaction, at exactly
 * its place in the stream: the rows written before it in the source transaction are applied
 * before it, the rows after it see the new shape.
 *
 *   - a row already in ddl_applied is skipped (a replayed transaction after a restart);
 *   - a resolution (`cdc ddl resolve`) replaces the statement, or marks it applied;
 *   - class stop raises: the apply worker rolls the transaction back and retries it every
 *     wal_retrieve_retry_interval until a resolution exists (nothing of it is applied meanwhile);
 *   - otherwise the statements run as the captured role with the captured search_path (the
 *     apply worker's own search_path is empty), CONCURRENTLY removed (it cannot run inside a
 *     transaction), and the id goes into ddl_applied in the same transaction.
 */
import { DDL_LOG_PAYLOAD_COLUMNS } from './capture-sql.js';

/**
 * What the target records about replayed DDL. The source gets the same (empty) tables: after
 * cutover the reverse publication on the target is FOR ALL TABLES too, and a subscription needs
 * every published table on its own side.
 */
export const DDL_BOOKKEEPING_TABLES_SQL = `
CREATE TABLE IF NOT EXISTS _pgshift.ddl_applied (
  id bigint PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  how text NOT NULL CHECK (how IN ('replay', 'derived', 'resolved-sql', 'marked-applied', 'detach-recopy')),
  statements text[] NOT NULL
);
CREATE TABLE IF NOT EXISTS _pgshift.ddl_resolution (
  id bigint PRIMARY KEY,
  sql text,
  mark_applied boolean NOT NULL,
  -- Set by pgshift's refresh, not by an operator: apply this DETACH and empty the detached table
  -- in the same transaction; the table is then copied like a new one (refresh.ts says when).
  recopy_detached boolean NOT NULL DEFAULT false,
  resolved_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK (mark_applied OR sql IS NOT NULL OR recopy_detached)
);
`;

export const REPLAY_TABLES_SQL = `
CREATE SCHEMA IF NOT EXISTS _pgshift;
CREATE TABLE IF NOT EXISTS _pgshift.ddl_log (
  id bigint PRIMARY KEY,
  captured_at timestamptz NOT NULL,
  class text NOT NULL,
${DDL_LOG_PAYLOAD_COLUMNS}
);
${DDL_BOOKKEEPING_TABLES_SQL}`;

export const REPLAY_FUNCTIONS_SQL = String.raw`
-- CREATE INDEX / DROP INDEX / REINDEX … CONCURRENTLY and DETACH PARTITION … CONCURRENTLY cannot
-- run inside a transaction block; without the word they take the stronger lock on the target,
-- where only the apply worker writes.
CREATE OR REPLACE FUNCTION _pgshift.ddl_without_concurrently(stmt text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog AS $fn$
  SELECT CASE
    WHEN stmt ~* '^\s*(create\s+(unique\s+)?index|drop\s+index|reindex\s+\w+)\s+concurrently\M'
      THEN regexp_replace(stmt, '\s+concurrently\M', '', 'i')
    WHEN stmt ~* '\mdetach\s+partition\s+\S+\s+concurrently\s*;?\s*$'
      THEN regexp_replace(stmt, '\s+concurrently(\s*;?\s*)$', '\1', 'i')
    ELSE stmt END
$fn$;

-- Whether this database's subscription applies the table's own changes (state ready). A table a
-- REFRESH has not added yet gets its changes skipped silently by the apply worker.
CREATE OR REPLACE FUNCTION _pgshift.ddl_subscribed(name text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog AS $fn$
  SELECT EXISTS (SELECT 1 FROM pg_subscription_rel sr JOIN pg_subscription s ON s.oid = sr.srsubid
                  WHERE sr.srrelid = to_regclass(name) AND sr.srsubstate = 'r'
                    AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()))
$fn$;

CREATE OR REPLACE FUNCTION _pgshift.ddl_replay() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  saved_path text := current_setting('search_path');
  saved_role text := current_setting('role');
  resolution record;
  how text := NEW.class;
  stmts text[] := NEW.statements;
  stmt text;
  ext text;
  rel regclass;
  before_rels oid[];
  resolved boolean;
  moved text;
BEGIN
  IF EXISTS (SELECT 1 FROM _pgshift.ddl_applied WHERE id = NEW.id) THEN RETURN NULL; END IF;
  SELECT * INTO resolution FROM _pgshift.ddl_resolution WHERE id = NEW.id;
  resolved := FOUND;
  IF resolved THEN
    IF resolution.mark_applied THEN
      INSERT INTO _pgshift.ddl_applied (id, how, statements) VALUES (NEW.id, 'marked-applied', '{}');
      RETURN NULL;
    ELSIF resolution.recopy_detached THEN
      how := 'detach-recopy';
    ELSE
      how := 'resolved-sql';
      stmts := ARRAY[resolution.sql];
    END IF;
  ELSIF NEW.class = 'stop' THEN
    RAISE EXCEPTION 'pgshift DDL #% stopped replication: %', NEW.id, NEW.reason
      USING DETAIL = format('statement: %s', left(NEW.query, 500)),
            HINT = format('pgshift cdc ddl resolve %s --sql ''<the change for the target>'' (or --mark-applied); the next retry applies it', NEW.id);
  ELSIF 'CREATE EXTENSION' = ANY (NEW.command_tags) THEN
    FOREACH ext IN ARRAY NEW.object_identities LOOP
      IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = ext) THEN
        RAISE EXCEPTION 'pgshift DDL #% stopped replication: extension % is not available on the target', NEW.id, ext
          USING HINT = format('install it, or pgshift cdc ddl resolve %s --sql ''…'' | --mark-applied', NEW.id);
      END IF;
    END LOOP;
  END IF;
  IF NOT resolved THEN
    -- DETACH PARTITION (publish_via_partition_root): from this point the source publishes the
    -- table on its own. Its rows are already here (they came through the root), so the
    -- subscription must list it before the DETACH is applied, added without a copy: otherwise
    -- its next changes are skipped. Raising makes the apply worker retry this transaction (every
    -- wal_retrieve_retry_interval) until pgshift's refresh (cdc ddl, cdc status --watch) adds it.
    FOREACH moved IN ARRAY NEW.detached LOOP
      IF NOT _pgshift.ddl_subscribed(moved) THEN
        RAISE EXCEPTION 'pgshift DDL #% waits: % must be in the subscription before its DETACH PARTITION is applied', NEW.id, moved
          USING HINT = 'pgshift cdc ddl (or cdc status --watch) adds it without copying its rows, which are already on the target';
      END IF;
    END LOOP;
    -- ATTACH PARTITION of a table the subscription has not copied: its rows are not here, and
    -- from now on they only travel as the root's changes. Applying it would lose them.
    FOREACH moved IN ARRAY NEW.attached LOOP
      IF NOT _pgshift.ddl_subscribed(moved) THEN
        RAISE EXCEPTION 'pgshift DDL #% stopped replication: ATTACH PARTITION of %, which the subscription has not copied: its rows would be missing on the target', NEW.id, moved
          USING HINT = format('copy its rows to the target by hand, then pgshift cdc ddl resolve %s --sql ''<the ATTACH>'' (or --mark-applied)', NEW.id);
      END IF;
    END LOOP;
  END IF;
  PERFORM set_config('search_path', NEW.search_path, true);
  PERFORM set_config('role', NEW.role_name, true);
  IF NEW.empty_created THEN
    SELECT array_agg(oid) INTO before_rels FROM pg_class WHERE relkind = 'r';
  END IF;
  BEGIN
    FOREACH stmt IN ARRAY stmts LOOP
      EXECUTE _pgshift.ddl_without_concurrently(stmt);
    END LOOP;
  EXCEPTION WHEN OTHERS THEN
    RAISE EXCEPTION 'pgshift DDL #% failed on the target: %', NEW.id, SQLERRM
      USING DETAIL = format('statement: %s', left(stmt, 500)),
            HINT = format('pgshift cdc ddl resolve %s --sql ''…'' | --mark-applied', NEW.id);
  END;
  IF NEW.empty_created THEN
    -- CREATE TABLE AS / SELECT INTO: the table's rows come with its copy once the subscription adds it.
    FOR rel IN SELECT oid::regclass FROM pg_class WHERE relkind = 'r' AND relpersistence = 'p' AND oid <> ALL (before_rels) LOOP
      EXECUTE format('TRUNCATE %s', rel);
    END LOOP;
  END IF;
  PERFORM set_config('role', saved_role, true);
  PERFORM set_config('search_path', saved_path, true);
  IF how = 'detach-recopy' THEN
    -- Emptied where it is detached: its rows come with the copy the refresh starts next.
    FOREACH moved IN ARRAY NEW.detached LOOP
      EXECUTE format('TRUNCATE %s', to_regclass(moved));
    END LOOP;
  END IF;
  INSERT INTO _pgshift.ddl_applied (id, how, statements) VALUES (NEW.id, how, stmts);
  RETURN NULL;
END
$fn$;

DROP TRIGGER IF EXISTS pgshift_ddl_replay ON _pgshift.ddl_log;
CREATE TRIGGER pgshift_ddl_replay AFTER INSERT ON _pgshift.ddl_log FOR EACH ROW EXECUTE FUNCTION _pgshift.ddl_replay();
ALTER TABLE _pgshift.ddl_log ENABLE REPLICA TRIGGER pgshift_ddl_replay;
`;
