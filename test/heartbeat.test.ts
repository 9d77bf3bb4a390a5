import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMemoryBroker } from '../src/brokers/memory.js';
import { type Beating, HeartbeatWheel } from '../src/heartbeat.js';
import { queryResolver, queryRouter, startApp } from './helpers/apps.js';
import { openRaw, waitFor } from './helpers/sse.js';

const PING = Buffer.from(': ping\n\n');

/** A stream as the wheel sees it: records its pings, and its writes move `lastWrite`. */
class Stream implements Beating {
  lastWrite = 0;
  heartbeatSlot = -1;
  heartbeatIndex = -1;
  readonly pings: number[] = [];
  /** Times the wheel asked for a heartbeat. */
  asked = 0;
  constructor(
    private readonly wheel: { readonly tick: number },
    private readonly busy = false,
    /** Called instead of writing a heartbeat (a stream that closes when pinged). */
    private readonly onHeartbeat?: () => void,
  ) {}
  write(): void {
    this.lastWrite = this.wheel.tick;
  }
  heartbeat(): void {
    this.asked++;
    if (this.onHeartbeat) {
      this.onHeartbeat();
      return;
    }
    if (this.busy) return;
    this.pings.push(Date.now());
    this.write();
  }
}

describe('heartbeat wheel', () => {
  it('pings an idle stream once per period, and a removed one never again', async () => {
    // 1 s in 10 slots of 100 ms.
    const wheel = new HeartbeatWheel<Stream>(1000, PING);
    try {
      const opened = Date.now();
      const kept = new Stream(wheel);
      const removed = new Stream(wheel);
      wheel.add(kept);
      wheel.add(removed);
      wheel.remove(removed);
      wheel.remove(removed); // twice is fine
      assert.equal(removed.heartbeatSlot, -1);
      await sleep(2300);
      assert.equal(kept.pings.length, 2, `pings: ${kept.pings.map((t) => t - opened)}`);
      const first = (kept.pings[0] as number) - opened;
      assert.ok(first >= 850 && first <= 1250, `first ping ${first} ms after it was added`);
      assert.deepEqual(removed.pings, []);
    } finally {
      wheel.stop();
    }
  });

  it('moves a stream that wrote to where its silence reaches the period', async () => {
    const wheel = new HeartbeatWheel<Stream>(1000, PING);
    try {
      const stream = new Stream(wheel);
      wheel.add(stream);
      // Writes every 250 ms for 2 s: never silent for a period, never pinged.
      for (let i = 0; i < 8; i++) {
        await sleep(250);
        stream.write();
      }
      const lastWrite = Date.now();
      assert.equal(stream.pings.length, 0, 'no ping while it writes');
      await sleep(1300);
      assert.equal(stream.pings.length, 1);
      const silence = (stream.pings[0] as number) - lastWrite;
      assert.ok(silence >= 850 && silence <= 1250, `pinged ${silence} ms after its last write`);
    } finally {
      wheel.stop();
    }
  });

  it('asks a stream that declined (busy) again a period later', async () => {
    const wheel = new HeartbeatWheel<Stream>(400, PING);
    try {
      const busy = new Stream(wheel, true);
      wheel.add(busy);
      await sleep(1000);
      // Still filed and silent: asked at about 400 and 800 ms, never written.
      assert.equal(busy.asked, 2);
      assert.deepEqual(busy.pings, []);
      assert.ok(busy.heartbeatSlot >= 0);
    } finally {
      wheel.stop();
    }
  });

  it('keeps every stream of a crowded slot through removals, moves and closes while it turns', async () => {
    // 4 slots of 100 ms (one period: 400 ms), 20 streams added every 50 ms: all of them are filed
    // before the first one is due.
    const wheel = new HeartbeatWheel<Stream>(400, PING);
    try {
      const kept: Stream[] = [];
      const removed: Stream[] = [];
      const closing: Stream[] = [];
      for (let round = 0; round < 4; round++) {
        for (let i = 0; i < 20; i++) {
          const stream =
            i % 5 === 0 ? new Stream(wheel, false, () => wheel.remove(stream)) : new Stream(wheel);
          wheel.add(stream);
          (i % 5 === 0 ? closing : i % 3 === 0 ? removed : kept).push(stream);
        }
        await sleep(50);
      }
      // Out of order, from the middle of the slots.
      for (const stream of removed.reverse()) wheel.remove(stream);
      // Half of those kept write now: they move to the current slot.
      for (const stream of kept.filter((_, i) => i % 2 === 0)) stream.write();
      await sleep(1000);
      for (const stream of removed) {
        assert.equal(stream.asked, 0);
        assert.equal(stream.heartbeatSlot, -1);
      }
      for (const stream of closing) {
        // Asked once, then it left the wheel from inside its heartbeat.
        assert.equal(stream.asked, 1);
        assert.equal(stream.heartbeatSlot, -1);
      }
      for (const stream of kept) {
        // A second ping every 400 ms: 2 or 3 in the 1 s after the last write.
        assert.ok(
          stream.pings.length >= 2 && stream.pings.length <= 4,
          `pings: ${stream.pings.length}`,
        );
        assert.ok(stream.heartbeatSlot >= 0);
      }
    } finally {
      wheel.stop();
    }
  });
});

describe('heartbeatMs option', () => {
  it('0 disables heartbeats: a silent stream gets none while one at 100 ms gets several', async () => {
    const broker = createMemoryBroker();
    const serve = (heartbeatMs: number) =>
      startApp('node:http', { broker, resolver: queryResolver, router: queryRouter, heartbeatMs });
    const [off, on] = [await serve(0), await serve(100)];
    const quiet = await openRaw(`${off.url}/events`);
    const beating = await openRaw(`${on.url}/events`);
    const pings = (text: string) => text.split(': ping').length - 1;
    // Opened first, and silent for as long as the other stream took to get three pings.
    await waitFor(() => pings(beating.text) >= 3, 'three heartbeats at 100 ms', 10_000);
    assert.equal(pings(quiet.text), 0);
    assert.equal(quiet.events.length, 1, 'the connected event, and nothing else');
    quiet.abort();
    beating.abort();
    await off.stop();
    await on.stop();
    await broker.close();
  });
});
