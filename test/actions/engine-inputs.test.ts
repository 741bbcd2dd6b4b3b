/**
 * The `engine` input of the preflight, cdc, cutover, rollback and cleanup actions: native by default, dms only with
 * every DMS input it needs, and an unknown engine refused by name (the CLI's --engine, the same names).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { enginesFromInputs, engineName } from '../../actions/common/engine.js';
import { PgshiftError } from '../../src/errors.js';
import { silentLogger } from '../../src/log/logger.js';

const set = (inputs: Record<string, string>) => {
  for (const [k, v] of Object.entries(inputs)) process.env[`INPUT_${k.toUpperCase()}`] = v;
};

afterEach(() => {
  for (const k of Object.keys(process.env)) if (k.startsWith('INPUT_')) delete process.env[k];
});

describe('engine inputs', () => {
  it('default to native both ways', () => {
    const { engine, reverseEngine } = enginesFromInputs('pgshift', silentLogger);
    expect([engine.name, reverseEngine.name]).toEqual(['native', 'native']);
    expect(engine.sparedRoles()).toEqual([]);
  });

  it('dms builds the DMS engine, which spares the DMS users in the freeze', () => {
    set({
      engine: 'dms',
      'aws-region': 'ap-northeast-2',
      'dms-instance-arn': 'arn:aws:dms:ap-northeast-2:123456789012:rep:X',
      'dms-source-endpoint-arn': 'arn:s',
      'dms-target-endpoint-arn': 'arn:t',
      'dms-user': 'dms_user, dms_other',
    });
    const { engine, reverseEngine } = enginesFromInputs('pgshift', silentLogger);
    expect(engine.name).toBe('dms');
    expect(engine.slotPlugin).toBe('test_decoding');
    expect(engine.switchesInFreeze).toBe(false);
    expect(engine.sparedRoles()).toEqual(['dms_user', 'dms_other']);
    expect(reverseEngine.name).toBe('native');
  });

  it('dms without the instance ARN fails with the input named', () => {
    set({ engine: 'dms', 'aws-region': 'ap-northeast-2', 'dms-user': 'dms_user' });
    let err: unknown;
    try {
      enginesFromInputs('pgshift', silentLogger);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PgshiftError);
    expect((err as PgshiftError).oneLine()).toMatch(/^engine: dms needs the input dms-instance-arn/);
  });

  it('reverse-engine dms needs the reverse endpoints, named, before anything runs; native forward needs no forward ones', () => {
    const common = {
      'aws-region': 'ap-northeast-2',
      'dms-instance-arn': 'arn:aws:dms:ap-northeast-2:123456789012:rep:X',
      'dms-user': 'dms_user',
    };
    set({ ...common, 'reverse-engine': 'dms' });
    expect(() => enginesFromInputs('pgshift', silentLogger)).toThrow(
      /^reverse-engine: dms needs the input dms-reverse-source-endpoint-arn/,
    );
    set({ 'dms-reverse-source-endpoint-arn': 'arn:rs', 'dms-reverse-target-endpoint-arn': 'arn:rt' });
    const { engine, reverseEngine } = enginesFromInputs('pgshift', silentLogger);
    expect([engine.name, reverseEngine.name]).toEqual(['native', 'dms']);
    expect(reverseEngine.sparedRoles()).toEqual(['dms_user']);
  });

  it('an unknown engine is refused', () => {
    set({ engine: 'pglogical' });
    expect(() => engineName()).toThrow(/engine/);
  });
});
