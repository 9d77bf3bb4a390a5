/** The hub's fan-out and recovery state on fake connections. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Hub } from '../src/fanout/hub.js';
import { fakeConnection, flushed, frame } from './helpers/fake-stream.js';

describe('Hub (unit)', () => {
  it('delivers to connections of every topic and of the event topic, once each, skipping the origin', async () => {
    const hub = new Hub('gym:1');
    const all = fakeConnection();
    const students = fakeConnection();
    const plans = fakeConnection();
    const both = fakeConnection();
    const origin = fakeConnection();
    for (const c of [all, students, plans, both, origin]) c.connection.goLive();
    hub.add(all.connection, null, 0);
    hub.add(students.connection, new Set(['students']), 0);
    hub.add(plans.connection, new Set(['plans']), 0);
    hub.add(both.connection, new Set(['students', 'plans']), 0);
    hub.add(origin.connection, null, 0);
    const recipients = hub.deliver(
      'students',
      frame('students.changed', '{}', undefined, origin.connection.id),
    );
    await flushed();
    assert.equal(recipients, 3);
    assert.equal(all.sink.events().length, 1);
    assert.equal(students.sink.events().length, 1);
    assert.equal(both.sink.events().length, 1);
    assert.equal(plans.sink.events().length, 0, 'another topic');
    assert.equal(origin.sink.events().length, 0, 'its own change');
    assert.equal([...hub.members()].length, 5, 'each member once');
    hub.remove(both.connection, new Set(['students', 'plans']));
    hub.remove(all.connection, null);
    assert.equal(hub.deliver('students', frame('students.changed', '{}')), 2);
  });

  it('holds live messages while recovering and hands them back in order; one recovery at a time', () => {
    const hub = new Hub('gym:1');
    const message = (n: number) => ({ channel: 'gym:1:students', payload: String(n) });
    assert.equal(hub.deferWhileRecovering(message(0)), false, 'live: deliver now');
    assert.equal(hub.beginRecovery(), true);
    assert.equal(hub.beginRecovery(), false, 'already recovering');
    assert.equal(hub.recovering, true);
    assert.equal(hub.deferWhileRecovering(message(1)), true);
    assert.equal(hub.deferWhileRecovering(message(2)), true);
    assert.deepEqual(
      hub.endRecovery().map((m) => m.payload),
      ['1', '2'],
    );
    assert.equal(hub.recovering, false);
    assert.deepEqual(hub.endRecovery(), []);
  });

  it('tracks the newest position seen, refusing older ones, and can be reset after a resync', () => {
    const hub = new Hub('gym:1');
    assert.equal(hub.lastSeen, undefined);
    assert.equal(hub.advance({ ms: 5, seq: 1 }), true);
    assert.equal(hub.advance({ ms: 5, seq: 1 }), false, 'a duplicate');
    assert.equal(hub.advance({ ms: 4, seq: 9 }), false, 'older');
    hub.resetTo({ ms: 3, seq: 0 });
    assert.deepEqual(hub.lastSeen, { ms: 3, seq: 0 });
  });
});
