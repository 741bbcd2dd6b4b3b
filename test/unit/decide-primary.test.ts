/**
 * Which server status (and so recover) takes as primary, from what the servers record. The inputs are the
 * readings status makes; the cases are the states a migration with an AWS DMS link passes through.
 */
import { describe, expect, it } from 'vitest';
import type { FreezeMarkers } from '../../src/engine/cutover/write-freeze.js';
import { type ApplicationState, decidePrimary, type LinkStatus, type ServerState, type Side } from '../../src/engine/status/status.js';

const server = (side: Side, freeze: Partial<FreezeMarkers> = {}): ServerState => ({
  side,
  where: side,
  reachable: true,
  readOnlyRoles: freeze.roles ?? [],
  loginRoles: 3,
  freeze: { database: 'app', roles: [], databaseLevel: false, switchoverInFlight: null, readOnlyByOthers: [], ...freeze },
  switchoverRunning: false,
});

const link = (direction: LinkStatus['direction'], found: Partial<LinkStatus> = {}): LinkStatus => ({
  direction,
  publisher: direction === 'source -> target' ? 'source' : 'target',
  subscriber: direction === 'source -> target' ? 'target' : 'source',
  subscription: direction === 'source -> target' ? 'pgshift' : 'pgshift_reverse',
  slot: direction === 'source -> target' ? 'pgshift' : 'pgshift_reverse',
  subscriptionExists: false,
  enabled: false,
  streaming: false,
  slotExists: false,
  slotActive: false,
  slotPlugin: null,
  lagBytes: null,
  applyErrors: null,
  ...found,
});
const dmsSlot = { slotExists: true, slotActive: true, slotPlugin: 'test_decoding' };
const slotsOf = (links: LinkStatus[]) =>
  links
    .filter((l) => l.slotExists)
    .map((l) => ({
      side: l.publisher,
      name: l.slot,
      active: true,
      retainedBytes: 0,
      walStatus: 'reserved',
      ours: true,
      level: 'ok' as const,
    }));

describe('decidePrimary with an AWS DMS link', () => {
  it('before any cutover: the source', () => {
    const links = [link('source -> target', dmsSlot), link('target -> source')];
    expect(decidePrimary({ source: server('source'), target: server('target') }, links, slotsOf(links)).primary).toBe('source');
  });

  describe('a cutover that did not finish (the runner was killed)', () => {
    const links = [link('source -> target', dmsSlot), link('target -> source', { slotExists: true, slotPlugin: 'pgoutput' })];
    const source = server('source', { roles: ['app'], switchoverInFlight: 'pgshift cutover to target 2026-11-30T20:00:00Z' });
    const app = (pointsAt: ApplicationState['pointsAt'], paused: boolean): ApplicationState => ({ switch: 'pgbouncer', pointsAt, paused });

    it('in the freeze, the application still at the source: the source', () => {
      const d = decidePrimary({ source, target: server('target') }, links, slotsOf(links), app('source', true));
      expect(d.primary).toBe('source');
      expect(d.because).toMatch(/AWS DMS task \(slot pgshift, test_decoding\).*the application points at the source/);
    });

    it('past the switch, the application at the target: the target', () => {
      expect(decidePrimary({ source, target: server('target') }, links, slotsOf(links), app('target', false)).primary).toBe('target');
    });

    it('where the application points cannot be read: not guessed', () => {
      for (const application of [null, app('unknown', false), app('elsewhere', false)]) {
        const d = decidePrimary({ source, target: server('target') }, links, slotsOf(links), application);
        expect(d.primary).toBe('unknown');
        expect(d.because).toMatch(/where the application points cannot be read/);
      }
    });
  });

  it('after a finished cutover with --reverse-engine dms: the target (the frozen source is the replica)', () => {
    const links = [link('source -> target'), link('target -> source', dmsSlot)];
    const source = server('source', { roles: ['app'] });
    expect(decidePrimary({ source, target: server('target') }, links, slotsOf(links)).primary).toBe('target');
  });

  it('a native link that runs decides, whatever else is recorded', () => {
    const native = { subscriptionExists: true, enabled: true, streaming: true, slotExists: true, slotPlugin: 'pgoutput' };
    const links = [link('source -> target', dmsSlot), link('target -> source', native)];
    const source = server('source', { roles: ['app'], switchoverInFlight: 'pgshift cutover to target 2026-11-30T20:00:00Z' });
    expect(decidePrimary({ source, target: server('target') }, links, slotsOf(links)).primary).toBe('target');
  });
});

describe('decidePrimary after a rollback with --engine dms', () => {
  it('finished: the source (the target, frozen, is the replica the new DMS task feeds)', () => {
    const links = [link('source -> target', dmsSlot), link('target -> source')];
    const target = server('target', { roles: ['app'] });
    expect(decidePrimary({ source: server('source'), target }, links, slotsOf(links)).primary).toBe('source');
  });
});
