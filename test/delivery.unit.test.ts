/** Delivery's recovery after a broker gap, on a hub of fake connections and a scripted history. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Delivery } from '../src/fanout/delivery.js';
import { Hub } from '../src/fanout/hub.js';
import type { BrokerHistory, HistoryEntry, Principal } from '../src/types.js';
import { fakeConnection, flushed } from './helpers/fake-stream.js';

const entry = (seq: number, type: string): HistoryEntry => ({
  id: `1000-${seq}`,
  channel: 'gym:1:students',
  payload: JSON.stringify({ event_type: type, data: { seq } }),
});

/** A history that answers `readSince` from `script` (or throws), and `position` likewise. */
function scripted(read: () => HistoryEntry[] | null, position: () => string): BrokerHistory {
  return {
    append: async () => '1000-99',
    position: async () => position(),
    readSince: async () => read(),
  };
}

function setUp(history: BrokerHistory) {
  const errors: unknown[] = [];
  const delivery = new Delivery<Principal>({
    prefix: '',
    encoder: undefined,
    tracing: undefined,
    history,
    maxMessageLength: 1 << 16,
    report: (err) => errors.push(err),
    broadcast: () => {},
    replayed: () => {},
  });
  const hub = new Hub('gym:1');
  hub.advance({ ms: 1000, seq: 1 });
  const client = fakeConnection({ positions: [{ ms: 1000, seq: 1 }] });
  client.connection.goLive();
  hub.add(client.connection, null, 0);
  return { delivery, hub, client, errors };
}

const seen = (client: ReturnType<typeof fakeConnection>) =>
  client.sink.events().map((e) => `${e.event}${e.data === '{}' ? '' : e.data}`);

describe('Delivery.recover (unit)', () => {
  it('replays what the history has after the last event seen, then the live ones held meanwhile', async () => {
    let release: (entries: HistoryEntry[]) => void = () => {};
    const history: BrokerHistory = {
      append: async () => '',
      position: async () => '1000-1',
      readSince: () => new Promise((resolve) => (release = resolve)),
    };
    const { delivery, hub, client } = setUp(history);
    const recovering = delivery.recover(hub);
    // Live messages that arrive during the recovery are held back, including one the replay has.
    delivery.deliver(hub, { ...entry(3, 'b'), id: '1000-3' });
    delivery.deliver(hub, { ...entry(4, 'c'), id: '1000-4' });
    release([entry(2, 'a'), entry(3, 'b')]);
    await recovering;
    await flushed();
    assert.deepEqual(seen(client), ['a{"seq":2}', 'b{"seq":3}', 'c{"seq":4}']);
    assert.equal(hub.recovering, false);
  });

  it('reads the history again for a gap signalled while it recovers', async () => {
    const reads: Array<(entries: HistoryEntry[]) => void> = [];
    const from: string[] = [];
    const history: BrokerHistory = {
      append: async () => '',
      position: async () => '1000-1',
      readSince: (_scope, afterId) => {
        from.push(afterId);
        return new Promise((resolve) => reads.push(resolve));
      },
    };
    const { delivery, hub, client } = setUp(history);
    const recovering = delivery.recover(hub);
    // The first read answers what was stored before the second gap: 3 came later.
    await delivery.recover(hub);
    reads[0]?.([entry(2, 'a')]);
    await flushed();
    assert.equal(reads.length, 2, 'a second read');
    reads[1]?.([entry(3, 'b')]);
    await recovering;
    await flushed();
    assert.deepEqual(from, ['1000-1', '1000-2'], 'the second read starts after the first');
    assert.deepEqual(seen(client), ['a{"seq":2}', 'b{"seq":3}']);
    assert.equal(hub.recovering, false);
  });

  it('resyncs every client when the history cannot prove nothing is missing', async () => {
    const { delivery, hub, client } = setUp(
      scripted(
        () => null,
        () => '1000-7',
      ),
    );
    await delivery.recover(hub);
    await flushed();
    assert.deepEqual(seen(client), ['eventrail.resync']);
    assert.deepEqual(hub.lastSeen, { ms: 1000, seq: 7 });
  });

  it('resyncs every client even when the history and its position both fail (no silent gap)', async () => {
    const failing = (): never => {
      throw new Error('Redis did not answer');
    };
    const { delivery, hub, client, errors } = setUp(scripted(failing, failing));
    await delivery.recover(hub);
    await flushed();
    assert.deepEqual(seen(client), ['eventrail.resync']);
    assert.equal(errors.length, 2, 'both failures reported');
  });
});
