/**
 * DDL capture on the source (docs/design.md rule 6). Event triggers write every DDL statement
 * into `_pgshift.ddl_log`, a table the `FOR ALL TABLES` publication carries to the target in
 * stream order, together with how the target must apply it:
 *
 *   replay   one top-level statement, run on the target as written
 *   derived  rebuilt from the catalog (a partition made inside a function, CREATE TABLE AS /
 *            SELECT INTO as an empty table, ADD COLUMN with a non-constant fast default)
 *   stop     replaying it could make the sides differ: replication stops on it, by id and reason
 *
 * table_rewrite and sql_drop only leave a note in a transaction-local setting; ddl_command_end
 * writes one row per statement. Reading the table inside table_rewrite is unsafe (an ALTER
 * COLUMN TYPE of a key column fails with "could not read block 0"), so whether a rewritten
 * table held rows is checked at ddl_command_end, when the statement has finished.
 *
 * The functions are SECURITY DEFINER (the application's roles cannot write the log
 * themselves) and the triggers ENABLE ALWAYS, so they also fire where session_replication_role
 * is replica. pgshift's own sessions (application_name pgshift*) are not captured.
 */

/** Commands that belong to replication itself, never to the application's schema. */
const SKIPPED_TAGS = [
  'CREATE PUBLICATION',
  'ALTER PUBLICATION',
  'DROP PUBLICATION',
  'CREATE SUBSCRIPTION',
  'ALTER SUBSCRIPTION',
  'DROP SUBSCRIPTION',
];

/**
 * The columns of `_pgshift.ddl_log` after id, captured_at and class, the same on both sides: the source's
 * event triggers fill them, the subscription copies them into the target's table (replay-sql.ts), where
 * the id and the timestamp come from the source instead of being generated.
 */
export const DDL_LOG_PAYLOAD_COLUMNS = `  reason text,
  command_tags text[] NOT NULL,
  object_identities text[] NOT NULL,
  query text NOT NULL,
  statements text[] NOT NULL,
  search_path text NOT NULL,
  role_name text NOT NULL,
  rewrite_reason int,
  empty_created boolean NOT NULL DEFAULT false,
  detached text[] NOT NULL DEFAULT '{}',
  attached text[] NOT NULL DEFAULT '{}'`;

export const CAPTURE_TABLE_SQL = `
CREATE SCHEMA IF NOT EXISTS _pgshift;
CREATE TABLE IF NOT EXISTS _pgshift.ddl_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  captured_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  class text NOT NULL CHECK (class IN ('replay', 'derived', 'stop')),
${DDL_LOG_PAYLOAD_COLUMNS}
);
`;

export const CAPTURE_FUNCTIONS_SQL = String.raw`
CREATE OR REPLACE FUNCTION _pgshift.ddl_is_mine() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog AS $fn$
  SELECT current_setting('application_name') LIKE 'pgshift%' OR coalesce(current_setting('pgshift.capturing', true), '') = 'on'
$fn$;

CREATE OR REPLACE FUNCTION _pgshift.ddl_note_rewrite() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  IF _pgshift.ddl_is_mine() THEN RETURN; END IF;
  PERFORM set_config('pgshift.rewrites',
    coalesce(current_setting('pgshift.rewrites', true), '') || pg_event_trigger_table_rewrite_oid() || ':' || pg_event_trigger_table_rewrite_reason() || ' ',
    true);
END
$fn$;

CREATE OR REPLACE FUNCTION _pgshift.ddl_note_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  dropped text[];
BEGIN
  IF _pgshift.ddl_is_mine() THEN RETURN; END IF;
  SELECT array_agg(object_type || ' ' || object_identity) INTO dropped
    FROM pg_event_trigger_dropped_objects()
   WHERE original AND NOT is_temporary AND schema_name IS DISTINCT FROM '_pgshift';
  IF dropped IS NOT NULL THEN
    PERFORM set_config('pgshift.dropped',
      (coalesce(nullif(current_setting('pgshift.dropped', true), ''), '{}')::text[] || dropped)::text, true);
  END IF;
END
$fn$;

-- Columns the statement left with a stored fast default whose expression is not a constant
-- (now(), CURRENT_TIMESTAMP, current_user ...): replayed as written, the target's existing rows
-- would get the apply time instead of the source's value.
CREATE OR REPLACE FUNCTION _pgshift.ddl_nonconstant_fast_defaults(rel oid)
RETURNS TABLE (attname name, type_sql text, missing text, default_sql text, not_null boolean, collation_sql text)
LANGUAGE sql STABLE SET search_path = pg_catalog AS $fn$
  SELECT a.attname, format_type(a.atttypid, a.atttypmod), (a.attmissingval::text::text[])[1], pg_get_expr(d.adbin, d.adrelid),
         a.attnotnull,
         CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
              THEN ' COLLATE ' || (SELECT format('%I.%I', n.nspname, co.collname) FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace WHERE co.oid = a.attcollation)
              ELSE '' END
    FROM pg_attribute a
    JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    JOIN pg_type t ON t.oid = a.atttypid
   WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped AND a.atthasmissing
     AND a.xmin::text = (txid_current() % 4294967296)::text
     AND pg_get_expr(d.adbin, d.adrelid) !~ '^(''([^'']|'''')*''|-?[0-9][0-9.e+-]*|true|false|NULL)(::[[:alnum:]_ ."\[\]]+(\([0-9, ]+\))?(\[\])*)?$'
   ORDER BY a.attnum
$fn$;

-- No SET search_path clause here: the caller's search_path is part of what is captured. It is
-- read first, then pinned for the body and put back at the end.
CREATE OR REPLACE FUNCTION _pgshift.ddl_capture() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
  -- Only schema-qualified calls before the search_path is pinned: this runs as its owner.
  caller_path text := pg_catalog.current_setting('search_path');
  tags text[];
  idents text[];
  kept int;
  dropped text[];
  rewrites text;
  q text;
  lex record;
  klass text := 'replay';
  why text;
  stmts text[];
  rewrite_bits int;
  rel record;
  col record;
  new_tables oid[];
  derived text[] := '{}';
  role_name text;
  moved text[];
  moved_name text;
  detached text[] := '{}';
  attached text[] := '{}';
BEGIN
  PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
  dropped := coalesce(nullif(current_setting('pgshift.dropped', true), ''), '{}')::text[];
  rewrites := coalesce(current_setting('pgshift.rewrites', true), '');
  q := current_query();
  role_name := CASE WHEN current_setting('role') = 'none' THEN session_user::text ELSE current_setting('role') END;
  PERFORM set_config('pgshift.dropped', '', true);
  PERFORM set_config('pgshift.rewrites', '', true);
  IF _pgshift.ddl_is_mine() OR tg_tag = ANY (ARRAY[${SKIPPED_TAGS.map((t) => `'${t}'`).join(', ')}]) THEN
    PERFORM set_config('search_path', caller_path, true);
    RETURN;
  END IF;

  SELECT array_agg(command_tag ORDER BY ord), array_agg(coalesce(object_identity, '') ORDER BY ord), count(*)
    INTO tags, idents, kept
    FROM pg_event_trigger_ddl_commands() WITH ORDINALITY AS x(classid, objid, objsubid, command_tag, object_type, schema_name, object_identity, in_extension, command, ord)
   -- CREATE/ALTER EXTENSION itself is reported with in_extension = true; the commands of its script are left out.
   WHERE (NOT in_extension OR command_tag IN ('CREATE EXTENSION', 'ALTER EXTENSION'))
     AND schema_name IS DISTINCT FROM '_pgshift'
     AND coalesce(schema_name, '') NOT LIKE 'pg\_temp%'
     AND NOT (object_type = 'schema' AND object_identity = '_pgshift');
  IF kept = 0 AND cardinality(dropped) = 0 THEN
    PERFORM set_config('search_path', caller_path, true);
    RETURN;
  END IF;
  IF kept = 0 THEN tags := ARRAY[tg_tag]; idents := dropped; END IF;

  lex := _pgshift.ddl_lex(q);
  -- Commands an extension's script runs belong to CREATE/ALTER EXTENSION, which is captured itself.
  IF tg_tag NOT LIKE '% EXTENSION' AND q ~* '^\s*(create|alter|drop)\s+extension\s' AND lex.statements = 1 THEN
    PERFORM set_config('search_path', caller_path, true);
    RETURN;
  END IF;
  stmts := ARRAY[q];
  SELECT coalesce(bit_or(split_part(r, ':', 2)::int), 0) INTO rewrite_bits
    FROM unnest(string_to_array(trim(rewrites), ' ')) r WHERE r <> '';

  IF lex.first_word <> split_part(tg_tag, ' ', 1) THEN
    -- The DDL ran inside a routine (DO, SELECT f(), CALL, EXECUTE). A partition made by
    -- maintenance functions (pg_partman style) can be rebuilt from the catalog; nothing else can.
    FOR rel IN
      SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS name, format('%I.%I', pn.nspname, p.relname) AS parent,
             pg_get_expr(c.relpartbound, c.oid) AS bound
        FROM pg_event_trigger_ddl_commands() e
        JOIN pg_class c ON c.oid = e.objid AND e.classid = 'pg_class'::regclass
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
        LEFT JOIN pg_class p ON p.oid = i.inhparent
        LEFT JOIN pg_namespace pn ON pn.oid = p.relnamespace
       WHERE e.command_tag = 'CREATE TABLE' AND NOT e.in_extension
    LOOP
      IF rel.bound IS NULL THEN derived := NULL; EXIT; END IF;
      derived := derived || format('CREATE TABLE %s PARTITION OF %s %s', rel.name, rel.parent, rel.bound);
    END LOOP;
    IF derived IS NOT NULL AND cardinality(derived) > 0 AND tags <@ ARRAY['CREATE TABLE', 'CREATE INDEX', 'ALTER TABLE'] THEN
      klass := 'derived';
      why := 'partition created inside a routine, rebuilt from the catalog';
      stmts := derived;
    ELSE
      klass := 'stop';
      why := format('%s ran inside a routine (the statement sent was %s ...), which cannot be replayed as written', tg_tag, coalesce(nullif(lex.first_word, ''), '?'));
    END IF;
  ELSIF lex.statements > 1 THEN
    klass := 'stop';
    why := format('%s was sent in one query string with %s other statement(s); only single statements are replayed', tg_tag, lex.statements - 1);
  ELSIF rewrite_bits & 2 = 2 THEN
    -- Bit 2 (AT_REWRITE_DEFAULT_VAL): every existing row gets a value computed now, once per
    -- row: a volatile default, an identity or a serial column. On a table with rows the target
    -- would compute different values.
    FOR rel IN SELECT split_part(r, ':', 1)::oid AS oid FROM unnest(string_to_array(trim(rewrites), ' ')) r
                WHERE r <> '' AND split_part(r, ':', 2)::int & 2 = 2 LOOP
      IF EXISTS (SELECT 1 FROM pg_class WHERE oid = rel.oid) THEN
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', rel.oid::regclass) INTO STRICT col;
        IF col.exists THEN
          klass := 'stop';
          why := format('%s rewrites %s, which holds rows, with values computed per row (a volatile default, an identity or a serial column): the target would compute different values', tg_tag, rel.oid::regclass);
          EXIT;
        END IF;
      END IF;
    END LOOP;
  END IF;

  IF tg_tag IN ('CREATE TABLE AS', 'SELECT INTO') THEN
    -- Written at ddl_command_start (its rows are decoded before this point); here only the
    -- replica identity below is added, as a statement of its own.
    klass := 'replay';
    why := NULL;
    stmts := '{}';
  ELSIF klass = 'replay' AND tg_tag = 'ALTER TABLE' THEN
    FOR rel IN SELECT DISTINCT e.objid AS oid FROM pg_event_trigger_ddl_commands() e WHERE e.classid = 'pg_class'::regclass LOOP
      FOR col IN SELECT * FROM _pgshift.ddl_nonconstant_fast_defaults(rel.oid) LOOP
        IF lex.top_level_comma THEN
          klass := 'stop';
          why := format('ALTER TABLE with several subcommands adds %I with a non-constant default (%s): cannot be rebuilt without guessing', col.attname, col.default_sql);
          EXIT;
        END IF;
        klass := 'derived';
        why := format('column %I keeps the source''s stored default %L for existing rows, then gets DEFAULT %s', col.attname, col.missing, col.default_sql);
        derived := derived
          || format('ALTER TABLE %s ADD COLUMN %I %s%s DEFAULT %L::%s%s', rel.oid::regclass, col.attname, col.type_sql, col.collation_sql, col.missing, col.type_sql, CASE WHEN col.not_null THEN ' NOT NULL' ELSE '' END)
          || format('ALTER TABLE %s ALTER COLUMN %I SET DEFAULT %s', rel.oid::regclass, col.attname, col.default_sql);
      END LOOP;
    END LOOP;
    IF klass = 'derived' THEN stmts := derived; END IF;
  END IF;

  -- ATTACH / DETACH PARTITION move a table in or out of its root's publication (publish_via_partition_root):
  -- the target's replay needs the subscription's state of that table (replay-sql.ts), so it is named here,
  -- resolved with the caller's search_path.
  IF klass <> 'stop' AND tg_tag = 'ALTER TABLE' THEN
    moved := regexp_match(q, '\m(attach|detach)\s+partition\s+((?:"(?:[^"]|"")+"|[[:alnum:]_$]+)(?:\s*\.\s*(?:"(?:[^"]|"")+"|[[:alnum:]_$]+))?)', 'i');
    IF moved IS NOT NULL THEN
      PERFORM set_config('search_path', caller_path, true);
      SELECT format('%I.%I', n.nspname, c.relname) INTO moved_name
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(moved[2]);
      PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
      IF moved_name IS NULL THEN
        klass := 'stop';
        why := format('%s PARTITION of %s: the table could not be found after the statement', upper(moved[1]), moved[2]);
      ELSIF lower(moved[1]) = 'detach' THEN
        detached := ARRAY[moved_name];
      ELSE
        attached := ARRAY[moved_name];
      END IF;
    END IF;
  END IF;

  -- A new table without a primary key would make the application's UPDATE and DELETE fail
  -- under FOR ALL TABLES (docs/design.md rule 2): give it REPLICA IDENTITY FULL here and there.
  IF klass <> 'stop' THEN
    FOR rel IN
      SELECT c.oid FROM pg_event_trigger_ddl_commands() e
        JOIN pg_class c ON c.oid = e.objid AND e.classid = 'pg_class'::regclass
       WHERE e.command_tag IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO') AND NOT e.in_extension
         AND c.relkind = 'r' AND c.relpersistence = 'p' AND c.relreplident = 'd' AND NOT c.relispartition
         AND NOT EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid AND x.indisprimary)
    LOOP
      PERFORM set_config('pgshift.capturing', 'on', true);
      EXECUTE format('ALTER TABLE %s REPLICA IDENTITY FULL', rel.oid::regclass);
      PERFORM set_config('pgshift.capturing', '', true);
      stmts := stmts || format('ALTER TABLE %s REPLICA IDENTITY FULL', rel.oid::regclass);
    END LOOP;
  END IF;
  IF cardinality(stmts) = 0 THEN
    PERFORM set_config('search_path', caller_path, true);
    RETURN;
  END IF;

  INSERT INTO _pgshift.ddl_log (class, reason, command_tags, object_identities, query, statements, search_path, role_name, rewrite_reason, detached, attached)
  VALUES (klass, why, tags, idents, q, stmts, caller_path, role_name, nullif(rewrite_bits, 0), detached, attached);
  PERFORM set_config('search_path', caller_path, true);
END
$fn$;
`;

/**
 * CREATE TABLE AS and SELECT INTO write their rows before ddl_command_end, and the apply worker
 * fails on rows for a table the target does not have ("logical replication target relation …
 * does not exist"). So they are captured at ddl_command_start, ahead of their rows: the target
 * runs the statement against its own tables (equal at that point of the stream) and empties what
 * it created; the rows arrive with the table's copy when the subscription picks the table up.
 */
export const CAPTURE_START_SQL = String.raw`
CREATE OR REPLACE FUNCTION _pgshift.ddl_capture_start() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
  -- Only schema-qualified calls before the search_path is pinned: this runs as its owner.
  caller_path text := pg_catalog.current_setting('search_path');
  q text := pg_catalog.current_query();
  lex record;
  into_clause text[];
  klass text := 'derived';
  why text := 'table created from a query: created empty on the target, its rows come with the table''s copy';
BEGIN
  PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
  IF tg_tag NOT IN ('CREATE TABLE AS', 'SELECT INTO') OR _pgshift.ddl_is_mine()
     OR q ~* '^\s*create\s+((global|local)\s+)?temp(orary)?\s' OR q ~* '^\s*select\s.*\minto\s+((local|global)\s+)?temp(orary)?\s' THEN
    PERFORM set_config('search_path', caller_path, true);
    RETURN;
  END IF;
  lex := _pgshift.ddl_lex(q);
  IF lex.first_word <> split_part(tg_tag, ' ', 1) THEN
    klass := 'stop';
    why := format('%s ran inside a routine (the statement sent was %s ...), which cannot be replayed as written', tg_tag, coalesce(nullif(lex.first_word, ''), '?'));
  ELSIF lex.statements > 1 THEN
    klass := 'stop';
    why := format('%s was sent in one query string with %s other statement(s); only single statements are replayed', tg_tag, lex.statements - 1);
  END IF;
  IF klass = 'derived' AND tg_tag = 'SELECT INTO' THEN
    -- PL/pgSQL cannot EXECUTE a SELECT … INTO: the target gets the same query as CREATE TABLE … AS.
    into_clause := regexp_match(substr(q, lex.into_at),
      '^(into\s+(unlogged\s+)?(table\s+)?((?:"(?:[^"]|"")+"|[[:alnum:]_$]+)(?:\s*\.\s*(?:"(?:[^"]|"")+"|[[:alnum:]_$]+))*))', 'i');
    IF lex.into_at IS NULL OR into_clause IS NULL THEN
      klass := 'stop';
      why := 'SELECT INTO whose target table could not be read from the statement';
    ELSE
      q := format('CREATE %sTABLE %s AS %s %s', coalesce(into_clause[2], ''), into_clause[4], left(q, lex.into_at - 1),
                  substr(q, lex.into_at + length(into_clause[1])));
    END IF;
  END IF;
  INSERT INTO _pgshift.ddl_log (class, reason, command_tags, object_identities, query, statements, search_path, role_name, empty_created)
  VALUES (klass, why, ARRAY[tg_tag], '{}', current_query(), ARRAY[q], caller_path,
          CASE WHEN current_setting('role') = 'none' THEN session_user::text ELSE current_setting('role') END, true);
  PERFORM set_config('search_path', caller_path, true);
END
$fn$;
`;

/** ENABLE ALWAYS: they fire in every session, whatever its session_replication_role. */
export const CAPTURE_TRIGGERS_SQL = `
CREATE EVENT TRIGGER pgshift_ddl_rewrite ON table_rewrite EXECUTE FUNCTION _pgshift.ddl_note_rewrite();
ALTER EVENT TRIGGER pgshift_ddl_rewrite ENABLE ALWAYS;
CREATE EVENT TRIGGER pgshift_ddl_drop ON sql_drop EXECUTE FUNCTION _pgshift.ddl_note_drop();
ALTER EVENT TRIGGER pgshift_ddl_drop ENABLE ALWAYS;
CREATE EVENT TRIGGER pgshift_ddl_capture_start ON ddl_command_start WHEN TAG IN ('CREATE TABLE AS', 'SELECT INTO') EXECUTE FUNCTION _pgshift.ddl_capture_start();
ALTER EVENT TRIGGER pgshift_ddl_capture_start ENABLE ALWAYS;
CREATE EVENT TRIGGER pgshift_ddl_capture ON ddl_command_end EXECUTE FUNCTION _pgshift.ddl_capture();
ALTER EVENT TRIGGER pgshift_ddl_capture ENABLE ALWAYS;
`;

export const CAPTURE_EVENT_TRIGGERS = [
  'pgshift_ddl_capture_start',
  'pgshift_ddl_rewrite',
  'pgshift_ddl_drop',
  'pgshift_ddl_capture',
] as const;
