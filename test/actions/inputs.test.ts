/**
 * Masking happens before anything logs, and covers every form in which a password can show up:
 * the whole URL, the URL without its query, the password as written (percent-encoded) and
 * decoded. pgshift's own redact() learns the same values, so its error lines hide them too.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { maskConnectionUrl, maskSecretInputs } from '../../actions/common/inputs.js';
import { redact } from '../../src/postgres/redact.js';

function captureStdout(fn: () => void): string[] {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  });
  try {
    fn();
  } finally {
    spy.mockRestore();
  }
  return lines;
}

afterEach(() => {
  for (const k of Object.keys(process.env)) if (k.startsWith('INPUT_')) delete process.env[k];
});

describe('maskConnectionUrl', () => {
  it('masks the URL, its query-less form and the password both encoded and decoded', () => {
    const password = 'p@ss:w/rd%한글';
    const url = `postgres://app:${encodeURIComponent(password)}@db.internal:5432/tasteam?sslmode=verify-full`;
    const lines = captureStdout(() => maskConnectionUrl(url));
    // Workflow commands escape '%' as %25 (the runner unescapes before masking).
    const mask = (v: string) => `::add-mask::${v.replace(/%/g, '%25')}`;
    expect(lines).toEqual(
      expect.arrayContaining([mask(url), mask(encodeURIComponent(password)), mask(password), mask(url.split('?')[0]!)]),
    );
    // And pgshift's own redaction hides it wherever it appears later, e.g. in a driver error.
    expect(redact(`auth failed for password ${password}`)).not.toContain(password);
  });

  it('masks the password of a libpq keyword string too', () => {
    const lines = captureStdout(() => maskConnectionUrl("host=db user=app password='s3cr3t-kw' dbname=x"));
    expect(lines).toContain('::add-mask::s3cr3t-kw');
  });

  it('does not mask a two-character password (it would blank those letters in the whole log)', () => {
    const lines = captureStdout(() => maskConnectionUrl('postgres://app:ab@db/x'));
    expect(lines).not.toContain('::add-mask::ab');
    expect(lines).toContain('::add-mask::postgres://app:ab@db/x');
  });
});

describe('maskSecretInputs', () => {
  it('masks every connection input and the GitHub token, each value once', () => {
    process.env['INPUT_SOURCE-URL'] = 'postgres://u:source-pw-1@h/d';
    process.env['INPUT_TARGET-URL'] = 'postgres://u:target-pw-2@h/d';
    process.env['INPUT_SOURCE-FROM-TARGET-URL'] = 'postgres://u:source-pw-1@10.0.0.5/d';
    process.env['INPUT_PGBOUNCER-ADMIN-URL'] = 'postgres://admin:bouncer-pw-3@127.0.0.1:6432/pgbouncer';
    process.env['INPUT_APP-URL'] = 'postgres://app:app-pw-4@127.0.0.1:6432/d';
    process.env['INPUT_GITHUB-TOKEN'] = 'ghs_token_5';
    const lines = captureStdout(() => maskSecretInputs());
    for (const secret of ['source-pw-1', 'target-pw-2', 'bouncer-pw-3', 'app-pw-4', 'ghs_token_5'])
      expect(lines).toContain(`::add-mask::${secret}`);
    expect(lines.filter((l) => l === '::add-mask::source-pw-1')).toHaveLength(1);
    expect(lines.every((l) => l.startsWith('::add-mask::'))).toBe(true);
  });
});
