import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Beating, HeartbeatWheel } from '../src/heartbeat.js';

const PING = Buffer.from(': ping\n\n');

/** A stream as the wheel sees it: records its pings, and its writes move `lastWrite`. */
class Stream implements Beating {
  lastWrite = 0;
  heartbeatSlot = -1;
  readonly pings: number[] = [];
  /** Times the wheel asked for a heartbeat. */
  asked = 0;
  constructor(
    private readonly wheel: { readonly tick: number },
    private readonly busy = false,
  ) {}
  write(): void {
    this.lastWrite = this.wheel.tick;
  }
  heartbeat(): void {
    this.asked++;
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
});
