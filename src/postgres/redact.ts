/**
 * Secrets never reach a log, an error, a summary or an output (docs/design.md rule 9).
 * Everything that prints text about a connection goes through these helpers.
 */
const registered = new Set<string>();

/** Remember a secret so that every later `redact` call hides it, wherever it appears. */
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 3) registered.add(secret);
}

/**
 * Every form in which a connection string's secret can show up: the whole value, the password
 * as written (percent-encoded) and decoded, and the URL without its query. For a libpq keyword
 * string, the value of `password=`. The CLI and the actions register connections through this one
 * function (the actions also hand each value to the runner's masker).
 */
export function connectionSecrets(connection: string | undefined): string[] {
  if (!connection) return [];
  const out = [connection];
  let parsed: URL | undefined;
  try {
    parsed = new URL(connection);
  } catch {
    const kw = /\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/i.exec(connection);
    if (kw) out.push(kw[1]!.replace(/^'|'$/g, ''));
  }
  if (parsed?.password) {
    out.push(parsed.password);
    try {
      out.push(decodeURIComponent(parsed.password));
    } catch {
      /* not percent-encoded */
    }
  }
  const withoutQuery = connection.split('?')[0]!;
  if (withoutQuery !== connection) out.push(withoutQuery);
  // A one- or two-character "password" would hide every occurrence of those characters.
  return [...new Set(out)].filter((v) => v.length >= 3);
}

/** Register a connection string's secrets (see connectionSecrets); returns them. */
export function registerConnection(connection: string | undefined): string[] {
  const secrets = connectionSecrets(connection);
  for (const v of secrets) registerSecret(v);
  return secrets;
}

// Only URLs that carry a password are rewritten; `postgres://app@host/db` in a hint is harmless.
const URL_PATTERN = /\b(postgres(?:ql)?):\/\/[^\s'"@/]*:[^\s'"@/]*@[^\s'"]+/gi;
const KEYWORD_PASSWORD = /\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/gi;

/** Hide connection URLs, `password=` keywords and every registered secret in a piece of text. */
export function redact(text: string): string {
  let out = text.replace(URL_PATTERN, (url) => describeUrl(url)).replace(KEYWORD_PASSWORD, 'password=***');
  for (const secret of registered) {
    if (out.includes(secret)) out = out.split(secret).join('***');
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret && out.includes(encoded)) out = out.split(encoded).join('***');
  }
  return out;
}

/** `host:port/db` of a URL, with no user or password: safe to show. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    const db = decodeURIComponent(u.pathname.replace(/^\//, '')) || '(default db)';
    return `${u.hostname || 'localhost'}:${u.port || '5432'}/${db}`;
  } catch {
    return '<connection string>';
  }
}
