import { describe, expect, it } from 'vitest';
import { compareLsn, formatLsn, lsnDiff, maxLsn, parseLsn } from '../../src/postgres/lsn.js';

describe('LSN arithmetic', () => {
  it('reads and prints PostgreSQL text LSNs, both halves', () => {
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) | 0xb374d848n);
    expect(formatLsn(parseLsn('0/1A2B3C'))).toBe('0/1A2B3C');
    expect(formatLsn(parseLsn('FFFFFFFF/FFFFFFFF'))).toBe('FFFFFFFF/FFFFFFFF');
    expect(() => parseLsn('16-B374D848')).toThrow(/not an LSN/);
  });

  it('compares across the 4 GB boundary where text comparison goes wrong', () => {
    // As strings, '9/0' > '10/0'; as WAL positions it is 4 GB behind.
    expect(compareLsn('9/0', '10/0')).toBe(-1);
    expect(compareLsn('10/0', '9/FFFFFFFF')).toBe(1);
    expect(compareLsn('0/10', '0/10')).toBe(0);
    expect(maxLsn('9/FF', null, '10/0', undefined, 'A/0')).toBe('10/0');
    expect(maxLsn(null, undefined)).toBeNull();
  });

  it('measures bytes between two positions', () => {
    expect(lsnDiff('1/0', '0/FFFFFF00')).toBe(256);
    expect(lsnDiff('0/100', '0/200')).toBe(-256);
    expect(lsnDiff('2/0', '0/0')).toBe(2 * 4294967296);
  });
});
