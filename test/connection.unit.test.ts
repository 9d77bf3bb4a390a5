/** The connection's state machine on a fake sink: held, lost, congested, coalesced. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fakeConnection, flushed, frame } from './helpers/fake-stream.js';
import { waitFor } from './helpers/sse.js';

const names = (sink: { events(): Array<{ event?: string | undefined }> }) =>
  sink.events().map((e) => e.event ?? 'message');

describe('Connection (unit)', () => {
  it('holds live events while its replay runs, then writes them after it, without duplicates', async () => {
    const { connection, sink } = fakeConnection({ positions: [{ ms: 1_000, seq: 0 }] });
    assert.equal(connection.send(frame('live.a', '1', 2), 0), true, 'held');
    assert.equal(connection.send(frame('live.b', '2', 3), 0), true, 'held');
    await flushed();
    assert.equal(sink.text, '', 'nothing written while held');
    // The replay writes what was missed, including an event that is also held.
    assert.equal(connection.sendNow(frame('replay.x', '0', 1), 0), true);
    assert.equal(connection.sendNow(frame('live.a', '1', 2), 0), true);
    connection.goLive();
    await flushed();
    assert.deepEqual(names(sink), ['replay.x', 'live.a', 'live.b'], 'in order, live.a once');
    assert.deepEqual(connection.positions, [{ ms: 1_000, seq: 3 }]);
  });

  it('past 10,000 held events it gives up holding: one resync first, then what it still holds', async () => {
    const { connection, sink, owner } = fakeConnection({ bufferSize: 20_000 });
    for (let seq = 1; seq <= 10_001; seq++) connection.send(frame('e', String(seq), seq), 0);
    connection.goLive();
    await flushed();
    const events = sink.events();
    assert.equal(events[0]?.event, 'eventrail.resync', 'the overflow is announced first');
    assert.equal(
      events.length,
      1 + 10_000,
      'the one event past the bound is covered by the resync',
    );
    assert.equal(owner.resyncs, 1);
  });

  it('a burst of 10,000 events in one tick to a congested stream waits, and all go out at the drain', async () => {
    const { connection, sink, owner } = fakeConnection({ bufferSize: 4 });
    connection.goLive();
    sink.full = true;
    connection.send(frame('e', '0'), 0);
    await flushed(); // the transport reports a full buffer: congested
    for (let i = 1; i <= 10_000; i++) connection.send(frame('e', String(i)), 0);
    assert.deepEqual(owner.closed, [], 'not judged by how many writes one tick made');
    assert.equal(sink.events().length, 1, 'nothing more handed to a full transport');
    sink.full = false;
    connection.drained();
    await flushed();
    const data = sink.events().map((e) => Number(e.data));
    assert.deepEqual(data, [...Array(10_001).keys()], 'all of them, in order');
  });

  it("'disconnect': past maxBufferedBytes while congested the client is cut with reason backpressure", async () => {
    const { connection, sink, owner } = fakeConnection({ maxBufferedBytes: 4096 });
    connection.goLive();
    sink.full = true;
    connection.send(frame('e', '1'), 0);
    await flushed();
    assert.equal(connection.send(frame('e', 'x'.repeat(3000)), 0), true, 'under the bytes');
    assert.equal(connection.send(frame('e', 'x'.repeat(3000)), 0), true, 'queued: now over');
    assert.equal(connection.send(frame('e', '3'), 0), false, 'over the bound');
    assert.deepEqual(owner.closed, ['backpressure']);
    assert.deepEqual(owner.backpressure, ['disconnect']);
    assert.equal(sink.destroyed, true);
    assert.equal(connection.closed, true);
  });

  it("'disconnect': congested for maxStallMs without a drain, it is cut even when no event comes", async () => {
    const { connection, sink, owner } = fakeConnection({ maxStallMs: 50 });
    connection.goLive();
    sink.full = true;
    connection.send(frame('e', '1'), 0);
    await flushed();
    const waiting = connection.writable();
    await waitFor(() => owner.closed.length > 0, 'the stalled stream cut', 10_000);
    assert.deepEqual(owner.closed, ['backpressure']);
    assert.deepEqual(owner.backpressure, ['disconnect']);
    assert.equal(await waiting, false, 'whoever waited for the drain hears it is gone');
  });

  it("'disconnect': a stream that drains before maxStallMs keeps going", async () => {
    const { connection, sink, owner } = fakeConnection({ maxStallMs: 50 });
    connection.goLive();
    sink.full = true;
    connection.send(frame('e', '1'), 0);
    await flushed();
    sink.full = false;
    connection.drained();
    // A second stream, congested later, shows when the watch has had its turn.
    const other = fakeConnection({ maxStallMs: 60 });
    other.connection.goLive();
    other.sink.full = true;
    other.connection.send(frame('e', '1'), 0);
    await flushed();
    await waitFor(() => other.owner.closed.length > 0, 'the other stream cut', 10_000);
    assert.deepEqual(owner.closed, [], 'the drained one was not');
    assert.equal(connection.send(frame('e', '2'), 0), true);
  });

  it("'drop': events past the bytes are skipped, then one resync comes before the next event", async () => {
    const { connection, sink, owner } = fakeConnection({ maxBufferedBytes: 2048, policy: 'drop' });
    connection.goLive();
    sink.full = true;
    connection.send(frame('e', '1', 1), 0);
    await flushed();
    assert.equal(connection.send(frame('e', 'x'.repeat(3000), 2), 0), true, 'queued: now over');
    assert.equal(connection.send(frame('e', '3', 3), 0), false, 'dropped');
    assert.deepEqual(owner.backpressure, ['drop']);
    sink.full = false;
    connection.drained();
    connection.send(frame('e', '4', 4), 0);
    await flushed();
    assert.deepEqual(
      sink.events().map((e) => `${e.event}:${e.data.slice(0, 4)}`),
      ['e:1', 'e:xxxx', 'eventrail.resync:{}', 'e:4'],
      'the gap is announced at the gap',
    );
  });

  it('goLive writes held events only as fast as the stream drains, in order with later ones', async () => {
    const { connection, sink } = fakeConnection({ positions: [{ ms: 1_000, seq: 0 }] });
    const big = 'x'.repeat(20_000);
    for (let seq = 1; seq <= 3; seq++) connection.send(frame('e', `${seq}${big}`, seq), 0);
    sink.full = true;
    assert.equal(connection.goLive(), false, 'congested after the first');
    assert.equal(sink.events().length, 1);
    connection.send(frame('e', `4${big}`, 4), 0);
    sink.full = false;
    const drained = connection.writable();
    connection.drained();
    assert.equal(await drained, true);
    assert.equal(connection.goLive(), true, 'the rest went out');
    await flushed();
    assert.deepEqual(
      sink.events().map((e) => e.data[0]),
      ['1', '2', '3', '4'],
    );
  });

  it("'coalesce': while congested the newest event of each name waits, in order of their newest", async () => {
    const { connection, sink, owner } = fakeConnection({ bufferSize: 3, policy: 'coalesce' });
    connection.goLive();
    sink.full = true;
    connection.send(frame('a', '1'), 0);
    await flushed();
    connection.send(frame('b', '1'), 0);
    connection.send(frame('a', '2'), 0);
    connection.send(frame('c', '1'), 0);
    connection.send(frame('b', '2'), 0);
    assert.deepEqual(owner.backpressure, ['coalesce'], 'b:2 merged b:1 (a:1 had gone out)');
    sink.full = false;
    connection.drained();
    await flushed();
    assert.deepEqual(
      sink.events().map((e) => `${e.event}:${e.data}`),
      ['a:1', 'a:2', 'c:1', 'b:2'],
      'older waiting events merged into newer ones; order of the newest kept',
    );
  });

  it("'coalesce': more names waiting than the buffer collapse into one resync", async () => {
    const { connection, sink } = fakeConnection({ bufferSize: 2, policy: 'coalesce' });
    connection.goLive();
    sink.full = true;
    connection.send(frame('a', '1'), 0);
    await flushed();
    for (const name of ['b', 'c', 'd', 'e']) connection.send(frame(name, '1'), 0);
    sink.full = false;
    connection.drained();
    connection.send(frame('f', '1'), 0);
    await flushed();
    assert.deepEqual(names(sink), ['a', 'eventrail.resync', 'f']);
  });

  it('skip moves the id past its own event without firing it; close sends the retry and ends', async () => {
    const { connection, sink, owner } = fakeConnection({ positions: [{ ms: 1_000, seq: 0 }] });
    connection.goLive();
    connection.skip(frame('own', '1', 1), 0);
    connection.close('server-closed', Buffer.from('retry: 5000\n\n'));
    await flushed();
    assert.equal(sink.events().length, 0, 'an id-only frame fires nothing');
    assert.match(sink.text, /^id: tag_\S+\n\nretry: 5000\n\n$/);
    assert.equal(sink.ended, true);
    assert.deepEqual(owner.closed, ['server-closed']);
    connection.close('error');
    assert.deepEqual(owner.closed, ['server-closed'], 'closed once');
  });
});
