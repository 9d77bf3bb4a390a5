/** The slots of OpeningRate on a clock of our own: who opens, who is deferred, to when. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OpeningRate } from '../src/server/opening-rate.js';

describe('OpeningRate', () => {
  it('a burst opens one second worth; each deferred gets its own later slot, in order', () => {
    let now = 0;
    const rate = new OpeningRate(10, () => now);
    const answers = Array.from({ length: 40 }, () => rate.take());
    assert.deepEqual(
      answers.slice(0, 10),
      Array.from({ length: 10 }, () => null),
    );
    const deferred = answers.slice(10) as number[];
    assert.ok(deferred.every((d) => typeof d === 'number'));
    // The k-th deferred (from 0): retry in [(k+1), (k+2)] slots of 100 ms, so one slot apart.
    for (const [k, delay] of deferred.entries()) {
      assert.ok(delay >= (k + 1) * 100 && delay <= (k + 2) * 100, `deferred ${k}: ${delay} ms`);
    }
    assert.equal(rate.backlog, 30);
    // As the slots pass, the bucket refills for whoever comes in them; the backlog runs down.
    now = 1_000;
    assert.equal(rate.backlog, 20);
    assert.equal(rate.take(), null);
  });

  it('the deferred coming back at their slots open; a newcomer queues behind the backlog', () => {
    let now = 0;
    const rate = new OpeningRate(4, () => now);
    for (let i = 0; i < 4; i++) assert.equal(rate.take(), null);
    const slots = [rate.take(), rate.take(), rate.take()] as number[];
    // Each comes back at its slot and opens.
    for (const slot of slots.sort((a, b) => a - b)) {
      now = Math.max(now, slot);
      assert.equal(rate.take(), null, `back at ${slot} ms`);
    }
    // A burst now: past the bucket, queued in order.
    const late = [rate.take(), rate.take(), rate.take(), rate.take(), rate.take()];
    assert.ok(late.some((d) => d !== null));
  });

  it('a deferred back at the very start of its slot opens: the refill is not short by a rounding', () => {
    // 282 ms then 500 ms at 4 a second: 0.282 * 4 = 1.128 tokens, one taken, then 0.872 more;
    // summed in floating point that is 0.9999999999999999, not 1.
    let now = 0;
    const rate = new OpeningRate(4, () => now);
    for (let i = 0; i < 4; i++) assert.equal(rate.take(), null);
    assert.notEqual(rate.take(), null);
    assert.notEqual(rate.take(), null);
    now = 282;
    assert.equal(rate.take(), null, 'slot 0, back at 282 ms');
    now = 500;
    assert.equal(rate.take(), null, 'slot 1, back at 500 ms');
  });

  it('a slot of a fraction of a millisecond is never answered early (3 a second: 333.3 ms)', () => {
    let now = 0;
    // The earliest point of every slot: a retry rounded down would come back before it.
    const rate = new OpeningRate(
      3,
      () => now,
      () => 0,
    );
    for (let i = 0; i < 3; i++) assert.equal(rate.take(), null);
    const slots = [rate.take(), rate.take(), rate.take()] as number[];
    for (const [k, delay] of slots.entries()) {
      assert.ok(delay >= ((k + 1) * 1000) / 3, `deferred ${k}: ${delay} ms`);
    }
    for (const slot of slots) {
      now = slot;
      assert.equal(rate.take(), null, `back at ${slot} ms`);
    }
  });

  it('0 turns it off: everything opens', () => {
    const rate = new OpeningRate(0, () => 0);
    for (let i = 0; i < 1_000; i++) assert.equal(rate.take(), null);
  });
});
