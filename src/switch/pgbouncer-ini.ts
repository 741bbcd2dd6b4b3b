/**
 * pgbouncer.ini: read where a [databases] entry points, and rewrite only that entry's host,
 * port and dbname, leaving every other byte of the file as it was.
 */
import { readFileSync } from 'node:fs';
import { usageError } from '../errors.js';

/** Where a [databases] entry points. Missing keys mean PgBouncer's defaults (Unix socket, port 5432, dbname = entry name). */
export interface PgBouncerTarget {
  host?: string;
  port?: number;
  dbname?: string;
}

interface IniEntry {
  /** The whole file as lines, each with its own line ending. */
  lines: string[];
  /** Index of the entry's line. */
  index: number;
  /** Offset in that line where the connect string starts. */
  valueStart: number;
}

export function readIni(iniPath: string): string {
  try {
    return readFileSync(iniPath, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw usageError(
      `cannot read the PgBouncer ini ${iniPath}${code ? ` (${code})` : ''}`,
      'pass --pgbouncer-ini with the path of the pgbouncer.ini PgBouncer runs with',
    );
  }
}

const unquoteKey = (key: string) => (key.startsWith('"') && key.endsWith('"') && key.length >= 2 ? key.slice(1, -1) : key);

function findEntry(text: string, iniPath: string, dbEntry: string): IniEntry {
  const lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  let section: string | undefined;
  let sawDatabases = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r?\n$/, '');
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith(';') || trimmed.startsWith('#')) continue;
    const header = /^\[([^\]]+)\]$/.exec(trimmed);
    if (header) {
      section = header[1]!.trim().toLowerCase();
      if (section === 'databases') sawDatabases = true;
      continue;
    }
    if (section !== 'databases') continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    if (unquoteKey(line.slice(0, eq).trim()) === dbEntry) return { lines, index: i, valueStart: eq + 1 };
  }
  if (!sawDatabases)
    throw usageError(
      `the PgBouncer ini ${iniPath} has no [databases] section`,
      "pass --pgbouncer-ini with the pgbouncer.ini that defines the application's database",
    );
  throw usageError(
    `the PgBouncer ini ${iniPath} has no [databases] entry ${dbEntry}`,
    'pass --pgbouncer-db with the name the application connects to (a key under [databases])',
  );
}

interface ConnstrPair {
  key: string;
  value: string;
  /** Offsets of the value (including its quotes) within the connect string. */
  start: number;
  end: number;
}

/** Split a PgBouncer connect string (`host=x port=5432 dbname='a b'`) into pairs with their positions. */
function parseConnstr(s: string): ConnstrPair[] {
  const pairs: ConnstrPair[] = [];
  let i = 0;
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i]!)) i++;
    if (i >= s.length) break;
    const keyStart = i;
    while (i < s.length && s[i] !== '=' && !/\s/.test(s[i]!)) i++;
    const key = s.slice(keyStart, i);
    while (i < s.length && /\s/.test(s[i]!)) i++;
    if (s[i] !== '=') throw new Error(`expected = after ${key}`);
    i++;
    while (i < s.length && /\s/.test(s[i]!)) i++;
    const start = i;
    let value = '';
    if (s[i] === "'") {
      i++;
      for (;;) {
        if (i >= s.length) throw new Error(`unterminated quote in ${key}`);
        if (s[i] === "'") {
          if (s[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += s[i++];
      }
    } else {
      while (i < s.length && !/\s/.test(s[i]!)) value += s[i++];
    }
    pairs.push({ key: key.toLowerCase(), value, start, end: i });
  }
  return pairs;
}

/** Quote a value for a PgBouncer connect string when it needs it (single quotes, inner quotes doubled). */
export function quoteConnstrValue(value: string | number): string {
  const text = String(value);
  return /^[A-Za-z0-9_.\-/:]+$/.test(text) ? text : `'${text.replace(/'/g, "''")}'`;
}

function entryPairs(entry: IniEntry, iniPath: string, dbEntry: string): { connstr: string; pairs: ConnstrPair[] } {
  const line = entry.lines[entry.index]!.replace(/\r?\n$/, '');
  const connstr = line.slice(entry.valueStart);
  try {
    return { connstr, pairs: parseConnstr(connstr) };
  } catch (err) {
    throw usageError(
      `the [databases] entry ${dbEntry} in ${iniPath} cannot be parsed (${(err as Error).message})`,
      'fix the entry so that it reads like: app = host=10.0.0.5 port=5432 dbname=app',
    );
  }
}

/** Where the entry points now, as written in the ini (for rollback: where it was before the switch). */
export function readDatabaseTarget(iniPath: string, dbEntry: string): PgBouncerTarget {
  const entry = findEntry(readIni(iniPath), iniPath, dbEntry);
  const { pairs } = entryPairs(entry, iniPath, dbEntry);
  const get = (k: string) => pairs.find((p) => p.key === k)?.value;
  const port = get('port');
  return { host: get('host'), port: port === undefined ? undefined : Number(port), dbname: get('dbname') };
}

/**
 * The ini text with only host, port and dbname of one entry replaced (added when absent).
 * Every other byte — other settings of the entry, other entries, comments, line endings — stays.
 */
export function rewriteEntry(text: string, iniPath: string, dbEntry: string, target: Required<PgBouncerTarget>): string {
  const entry = findEntry(text, iniPath, dbEntry);
  const { connstr, pairs } = entryPairs(entry, iniPath, dbEntry);
  const wanted: [string, string][] = [
    ['host', quoteConnstrValue(target.host)],
    ['port', quoteConnstrValue(target.port)],
    ['dbname', quoteConnstrValue(target.dbname)],
  ];
  let updated = connstr;
  // Replace from the end so earlier offsets stay valid.
  const present = wanted
    .map(([k, v]) => ({ pair: pairs.find((p) => p.key === k), v, k }))
    .sort((a, b) => (b.pair?.start ?? -1) - (a.pair?.start ?? -1));
  const missing: string[] = [];
  for (const { pair, v, k } of present) {
    if (pair) updated = updated.slice(0, pair.start) + v + updated.slice(pair.end);
    else missing.push(`${k}=${v}`);
  }
  if (missing.length) {
    const trailing = /\s*$/.exec(updated)![0];
    const body = updated.slice(0, updated.length - trailing.length);
    updated = `${body} ${missing.join(' ')}${trailing}`;
  }
  const original = entry.lines[entry.index]!;
  const ending = /\r?\n$/.exec(original)?.[0] ?? '';
  const lines = [...entry.lines];
  lines[entry.index] = original.slice(0, entry.valueStart) + updated + ending;
  return lines.join('');
}
