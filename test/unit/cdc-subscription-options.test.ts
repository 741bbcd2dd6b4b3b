import { describe, expect, it } from 'vitest';
import { helperIndexName } from '../../src/engine/cdc/replica-identity.js';
import { chooseSubscriptionOptions, DEFAULT_CDC_OPTIONS } from '../../src/engine/cdc/subscription-options.js';

const all = { binary: true, streaming: true, disableOnError: true, originNone: true };
const show = (r: ReturnType<typeof chooseSubscriptionOptions>) => ({
  chosen: r.chosen.map((o) => `${o.option}=${o.value}`),
  skipped: r.skipped.map((o) => o.option),
});

describe('subscription options by server version', () => {
  it('15 → 17 (this migration): no parallel apply and no origin filter from a 15 publisher', () => {
    expect(show(chooseSubscriptionOptions(all, { source: 150010, target: 170006 }))).toEqual({
      chosen: ['binary=true', 'streaming=on', 'disable_on_error=true'],
      skipped: ['origin'],
    });
  });

  it('16 → 17: parallel apply and origin = none', () => {
    expect(show(chooseSubscriptionOptions(all, { source: 160004, target: 170006 })).chosen).toEqual([
      'binary=true',
      'streaming=parallel',
      'disable_on_error=true',
      'origin=none',
    ]);
  });

  it('13 → 14: nothing that needs 14 on both sides or 15 on the target', () => {
    expect(show(chooseSubscriptionOptions(all, { source: 130012, target: 140009 }))).toEqual({
      chosen: [],
      skipped: ['binary', 'streaming', 'disable_on_error', 'origin'],
    });
  });

  it('defaults: streaming everywhere it exists (parallel from 16), origin = none where the publisher honours it', () => {
    expect(show(chooseSubscriptionOptions(DEFAULT_CDC_OPTIONS, { source: 150010, target: 170006 }))).toEqual({
      chosen: ['streaming=on'],
      skipped: ['origin'],
    });
    expect(show(chooseSubscriptionOptions(DEFAULT_CDC_OPTIONS, { source: 170000, target: 170006 })).chosen).toEqual([
      'streaming=parallel',
      'origin=none',
    ]);
    expect(
      show(chooseSubscriptionOptions({ ...DEFAULT_CDC_OPTIONS, streaming: false }, { source: 170000, target: 170006 })).chosen,
    ).toEqual(['origin=none']);
  });
});

describe('helper index names', () => {
  it('stay within 63 bytes without splitting a Korean character, and differ per schema', () => {
    const long = helperIndexName({ schema: 'public', name: '아주 긴 이벤트 로그 테이블 이름입니다 정말로 깁니다' });
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^pgshift_ri_아주 긴 .*_[0-9a-f]{8}$/);
    expect(long).not.toContain('\uFFFD');
    expect(helperIndexName({ schema: 'a', name: 'log' })).not.toBe(helperIndexName({ schema: 'b', name: 'log' }));
  });
});
