/**
 * The DDL freeze: a ddl_command_start event trigger that refuses DDL before the command takes
 * any lock, so nothing queues behind a refused ALTER. Used while full-load's snapshot copy runs,
 * during the cutover's write freeze, after cutover on the new primary (DDL there would break the
 * reverse replication that makes rollback lossless), and as `cdc start --ddl freeze`.
 *
 * Exempt: pgshift's own sessions, REFRESH MATERIALIZED VIEW (no schema change), and temporary
 * objects — CREATE TEMP … is recognised from the statement; a DROP is checked at sql_drop, where
 * the dropped objects are known (the locks of the DROP are taken by then; the statement still
 * fails before it changes anything).
 */
export const FREEZE_FUNCTIONS_SQL = String.raw`
CREATE SCHEMA IF NOT EXISTS _pgshift;
CREATE OR REPLACE FUNCTION _pgshift.ddl_freeze_why() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog AS $fn$
  SELECT coalesce(obj_description('_pgshift'::regnamespace, 'pg_namespace'), 'a pgshift DDL freeze is in place')
$fn$;

CREATE OR REPLACE FUNCTION _pgshift.ddl_freeze() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  -- Publications and subscriptions are replication's own objects, not the application's schema.
  IF current_setting('application_name') LIKE 'pgshift%' OR tg_tag = 'REFRESH MATERIALIZED VIEW'
     OR tg_tag LIKE '% PUBLICATION' OR tg_tag LIKE '% SUBSCRIPTION' THEN RETURN; END IF;
  IF tg_tag LIKE 'DROP %' THEN RETURN; END IF; -- checked at sql_drop, where the objects are known
  IF current_query() ~* '^\s*create\s+((global|local)\s+)?temp(orary)?\s' THEN RETURN; END IF;
  RAISE EXCEPTION 'DDL is frozen by pgshift: % refused', tg_tag
    USING ERRCODE = '55000', DETAIL = _pgshift.ddl_freeze_why(),
          HINT = 'schema changes wait until the freeze is lifted (see pgshift cdc ddl / pgshift ddl unfreeze)';
END
$fn$;

CREATE OR REPLACE FUNCTION _pgshift.ddl_freeze_drop() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  IF current_setting('application_name') LIKE 'pgshift%' THEN RETURN; END IF;
  IF EXISTS (SELECT 1 FROM pg_event_trigger_dropped_objects() WHERE original AND NOT is_temporary) THEN
    RAISE EXCEPTION 'DDL is frozen by pgshift: % refused', tg_tag
      USING ERRCODE = '55000', DETAIL = _pgshift.ddl_freeze_why(),
            HINT = 'schema changes wait until the freeze is lifted (see pgshift cdc ddl / pgshift ddl unfreeze)';
  END IF;
END
$fn$;
`;

export const FREEZE_EVENT_TRIGGERS = ['pgshift_ddl_freeze', 'pgshift_ddl_freeze_drop'] as const;

export const FREEZE_TRIGGERS_SQL = `
CREATE EVENT TRIGGER pgshift_ddl_freeze ON ddl_command_start EXECUTE FUNCTION _pgshift.ddl_freeze();
ALTER EVENT TRIGGER pgshift_ddl_freeze ENABLE ALWAYS;
CREATE EVENT TRIGGER pgshift_ddl_freeze_drop ON sql_drop EXECUTE FUNCTION _pgshift.ddl_freeze_drop();
ALTER EVENT TRIGGER pgshift_ddl_freeze_drop ENABLE ALWAYS;
`;
