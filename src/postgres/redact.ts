/**
 * Secrets never reach a log, an error, a summary or an output (docs/design.md rule 9).
 * Everything that prints text about a connection goes through these helpers.
 */
const registered = new Set<string>();

/** Remember a secret so that every later `redact` call hides it, wherever it appears. */
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 3) registered.add(secret);
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
