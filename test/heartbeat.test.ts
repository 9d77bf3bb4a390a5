import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryBroker } from '../src/brokers/memory.js';
import { type Beating, HeartbeatWheel, WheelSeat } from '../src/fanout/heartbeat.js';
import { queryResolver, queryRouter, startApp } from './helpers/apps.js';
import { openRaw, waitFor } from './helpers/sse.js';

const PING = Buffer.from(': ping\n\n');

/** The wheel's ticks, driven by hand: no timer, no wall clock, nothing a busy machine can delay. */
function manualClock() {
  let turn = (): void => {};
  return {
    schedule(fn: () => void): () => void {
      turn = fn;
      return () => {
        turn = () => {};
      };
    },
    advance(ticks: number): void {
      for (let i = 0; i < ticks; i++) turn();
    },
  };
}

/** A stream as the wheel sees it: records the ticks of its pings; its writes move `lastWrite`. */
class Stream implements Beating {
  lastWrite = 0;
  readonly seat = new WheelSeat();
  /** The tick of each ping, and how long the stream had been silent when it came. */
  readonly pings: Array<{ tick: number; silent: number }> = [];
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
    this.pings.push({ tick: this.wheel.tick, silent: this.wheel.tick - this.lastWrite });
    this.write();
  }
}

/** Every ping came exactly when the stream had been silent for a period, and none is overdue. */
function assertBeats(stream: Stream, wheel: { readonly tick: number }, period: number): void {
  for (const ping of stream.pings) assert.equal(ping.silent, period, `ping at tick ${ping.tick}`);
  assert.ok(wheel.tick - stream.lastWrite < period, `silent since tick ${stream.lastWrite}`);
}

describe('heartbeat wheel', () => {
  it('pings an idle stream once per period, and a removed one never again', () => {
    // 1 s in 10 slots of 100 ms: a period is 10 ticks.
    const clock = manualClock();
    const wheel = new HeartbeatWheel<Stream>(1000, PING, clock.schedule);
    const kept = new Stream(wheel);
    const removed = new Stream(wheel);
    wheel.add(kept);
    wheel.add(removed);
    wheel.remove(removed);
    wheel.remove(removed); // twice is fine
    assert.equal(removed.seat.slot, -1);
    clock.advance(23);
    assert.deepEqual(
      kept.pings.map((p) => p.tick),
      [10, 20],
    );
    assertBeats(kept, wheel, 10);
    assert.deepEqual(removed.pings, []);
    wheel.stop();
    clock.advance(10);
    assert.equal(kept.pings.length, 2, 'no tick after stop()');
  });

  it('ticks once per slot: 100 ms, wider past 600 slots; one slot for a short period', () => {
    const every = (periodMs: number): number => {
      let ms = 0;
      new HeartbeatWheel(periodMs, PING, (_turn, everyMs) => {
        ms = everyMs;
        return () => {};
      }).stop();
      return ms;
    };
    assert.deepEqual([1000, 3000, 30_000, 120_000, 50].map(every), [100, 100, 100, 200, 50]);
  });

  it('moves a stream that wrote to where its silence reaches the period', () => {
    const clock = manualClock();
    const wheel = new HeartbeatWheel<Stream>(1000, PING, clock.schedule);
    const stream = new Stream(wheel);
    wheel.add(stream);
    // Writes every 2 or 3 ticks for 20 ticks: never silent for a period, never pinged.
    for (let i = 0; i < 8; i++) {
      clock.advance(i % 2 ? 3 : 2);
      stream.write();
    }
    assert.equal(stream.lastWrite, 20);
    assert.equal(stream.pings.length, 0, 'no ping while it writes');
    clock.advance(13);
    assert.deepEqual(stream.pings, [{ tick: 30, silent: 10 }]);
    assertBeats(stream, wheel, 10);
    wheel.stop();
  });

  it('asks a stream that declined (busy) again a period later', () => {
    const clock = manualClock();
    const wheel = new HeartbeatWheel<Stream>(400, PING, clock.schedule);
    const busy = new Stream(wheel, true);
    wheel.add(busy);
    clock.advance(10);
    // Still filed and silent: asked at ticks 4 and 8, never written.
    assert.equal(busy.asked, 2);
    assert.deepEqual(busy.pings, []);
    assert.ok(busy.seat.slot >= 0);
    wheel.stop();
  });

  it('keeps every stream of a crowded slot through removals, moves and closes while it turns', () => {
    // 4 slots (one period: 4 ticks), 20 streams added twice a tick: all of them are filed
    // in few slots, and the wheel turns through them while they move, leave and close.
    const clock = manualClock();
    const wheel = new HeartbeatWheel<Stream>(400, PING, clock.schedule);
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
      if (round % 2) clock.advance(1);
    }
    // Out of order, from the middle of the slots.
    for (const stream of removed.reverse()) wheel.remove(stream);
    // Half of those kept write now: they move to the current slot.
    for (const stream of kept.filter((_, i) => i % 2 === 0)) stream.write();
    clock.advance(10);
    for (const stream of removed) {
      assert.equal(stream.asked, 0);
      assert.equal(stream.seat.slot, -1);
    }
    for (const stream of closing) {
      // Asked once, then it left the wheel from inside its heartbeat.
      assert.equal(stream.asked, 1);
      assert.equal(stream.seat.slot, -1);
    }
    for (const stream of kept) {
      // Pinged every period since its last write: two or three times in these 10 ticks.
      assert.ok(stream.pings.length >= 2 && stream.pings.length <= 3, `${stream.pings.length}`);
      assertBeats(stream, wheel, 4);
      assert.ok(stream.seat.slot >= 0);
    }
    wheel.stop();
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
