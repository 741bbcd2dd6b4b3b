/**
 * One line to a chat webhook when the watch finds something (Slack-compatible: `{"text": …}`,
 * which Slack, Mattermost, Rocket.Chat and Discord's /slack endpoint all take). The URL is a
 * secret (it alone lets anyone post): it never appears in a log or an error.
 */
import type { MigrationStatus } from '../engine/status/status.js';
import { redact } from '../postgres/redact.js';

export function statusAlertLine(st: MigrationStatus): string {
  const worst = st.findings.filter((f) => f.level === st.verdict).map((f) => f.message);
  return `pgshift ${st.name}: ${st.verdict.toUpperCase()} — ${worst.slice(0, 3).join('; ')}${worst.length > 3 ? ` (+${worst.length - 3} more)` : ''} — next: ${st.next}`;
}

export async function postAlert(url: string, text: string, timeoutMs = 10_000): Promise<{ ok: boolean; error?: string }> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: redact(text) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return res.ok ? { ok: true } : { ok: false, error: `HTTP ${res.status}` };
  } catch (err) {
    const e = err as { name?: string; cause?: { code?: string } };
    return { ok: false, error: e.name === 'TimeoutError' ? 'timed out' : (e.cause?.code ?? e.name ?? 'request failed') };
  }
}
