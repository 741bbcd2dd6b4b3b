/**
 * A small SQL lexer in PL/pgSQL, installed on the source: how many statements a query string
 * holds, its first keyword, and whether the first statement has a comma outside parentheses.
 *
 * Why it exists: `current_query()` in an event trigger returns the whole string the client
 * sent. A single top-level statement can be replayed as written; a string with several
 * statements (`ALTER …; INSERT …`) cannot, and a DDL whose top-level statement is `DO`,
 * `SELECT f()` or `CALL` ran inside a routine (docs/design.md rule 6: what cannot be replayed
 * safely stops replication by name). Quotes, E'' strings, quoted identifiers, dollar quotes and
 * nested comments are skipped so that a `;` inside them is not counted.
 */
export const LEXER_SQL = String.raw`
CREATE OR REPLACE FUNCTION _pgshift.ddl_lex(q text, OUT statements int, OUT first_word text, OUT top_level_comma boolean, OUT into_at int)
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog AS $fn$
DECLARE
  c text[] := string_to_array(q, NULL);
  n int := coalesce(array_length(c, 1), 0);
  i int := 1;
  depth int := 0;
  in_statement boolean := false;
  word text := '';
  ch text;
  tag text;
  close_at int;
BEGIN
  statements := 0;
  top_level_comma := false;
  WHILE i <= n LOOP
    ch := c[i];
    IF ch = '-' AND i < n AND c[i + 1] = '-' THEN
      WHILE i <= n AND c[i] <> E'\n' LOOP i := i + 1; END LOOP;
      CONTINUE;
    ELSIF ch = '/' AND i < n AND c[i + 1] = '*' THEN
      DECLARE nest int := 1; BEGIN
        i := i + 2;
        WHILE i <= n AND nest > 0 LOOP
          IF c[i] = '/' AND i < n AND c[i + 1] = '*' THEN nest := nest + 1; i := i + 2;
          ELSIF c[i] = '*' AND i < n AND c[i + 1] = '/' THEN nest := nest - 1; i := i + 2;
          ELSE i := i + 1; END IF;
        END LOOP;
      END;
      CONTINUE;
    ELSIF ch ~ '\s' THEN
      i := i + 1;
      CONTINUE;
    ELSIF ch = ';' THEN
      in_statement := false;
      depth := 0;
      i := i + 1;
      CONTINUE;
    END IF;
    IF NOT in_statement THEN
      in_statement := true;
      statements := statements + 1;
    END IF;
    IF ch = '''' THEN
      -- E'...' allows backslash escapes; '' is a quote inside any string.
      DECLARE escapes boolean := i > 1 AND upper(c[i - 1]) = 'E' AND (i = 2 OR c[i - 2] !~ '[[:alnum:]_$]'); BEGIN
        i := i + 1;
        WHILE i <= n LOOP
          IF escapes AND c[i] = '\' THEN i := i + 2; CONTINUE; END IF;
          IF c[i] = '''' THEN
            IF i < n AND c[i + 1] = '''' THEN i := i + 2; CONTINUE; END IF;
            EXIT;
          END IF;
          i := i + 1;
        END LOOP;
        i := i + 1;
      END;
    ELSIF ch = '"' THEN
      i := i + 1;
      WHILE i <= n LOOP
        IF c[i] = '"' THEN
          IF i < n AND c[i + 1] = '"' THEN i := i + 2; CONTINUE; END IF;
          EXIT;
        END IF;
        i := i + 1;
      END LOOP;
      i := i + 1;
    ELSIF ch = '$' AND (i = 1 OR c[i - 1] !~ '[[:alnum:]_$]') AND (i = n OR c[i + 1] !~ '[0-9]') THEN
      -- A dollar quote $tag$ … $tag$ (a $1 parameter starts with a digit and is not one).
      tag := substring(array_to_string(c[i:least(n, i + 64)], '') FROM '^\$([[:alpha:]_][[:alnum:]_]*)?\$');
      IF tag IS NULL AND i < n AND c[i + 1] = '$' THEN tag := ''; END IF;
      IF tag IS NULL THEN
        i := i + 1;
      ELSE
        close_at := strpos(array_to_string(c[i + length(tag) + 2:n], ''), '$' || tag || '$');
        IF close_at = 0 THEN i := n + 1; ELSE i := i + length(tag) + 2 + close_at - 1 + length(tag) + 2; END IF;
      END IF;
    ELSE
      IF ch = '(' THEN depth := depth + 1;
      ELSIF ch = ')' THEN depth := depth - 1;
      ELSIF ch = ',' AND depth = 0 AND statements = 1 THEN top_level_comma := true;
      END IF;
      IF statements = 1 AND first_word IS NULL THEN
        IF ch ~ '[[:alpha:]_]' THEN
          word := word || ch;
          IF i = n OR c[i + 1] !~ '[[:alnum:]_]' THEN first_word := upper(word); END IF;
        ELSE
          first_word := '';
        END IF;
      END IF;
      -- Where a top-level INTO starts in the first statement (SELECT … INTO t FROM …).
      IF statements = 1 AND depth = 0 AND into_at IS NULL AND upper(ch) = 'I' AND i + 4 <= n
         AND upper(array_to_string(c[i:i + 3], '')) = 'INTO' AND c[i + 4] ~ '\s'
         AND (i = 1 OR c[i - 1] !~ '[[:alnum:]_$"]') THEN
        into_at := i;
      END IF;
      i := i + 1;
    END IF;
  END LOOP;
  first_word := coalesce(nullif(first_word, ''), '');
END
$fn$;
`;
