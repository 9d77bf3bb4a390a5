/**
 * The server's door to the history, on a history whose reads the test answers by hand: the bound
 * (first come, first served), which identical calls share a read and which must not, the answers
 * kept for a hub's later replays, and that shared answers cannot be changed by a caller.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryBroker } from '../src/brokers/memory.js';
import { SharedHistoryReads } from '../src/fanout/history-reads.js';
import { createSseServer, isEventrailError } from '../src/index.js';
import type { BrokerHistory, HistoryEntry } from '../src/types.js';
import { Limiter } from '../src/util/limiter.js';
import { entries, entry, hubAt } from './helpers/history-entries.js';

/** A read the test answers. */
interface Pending {
  readonly afterId: string;
  readonly limit: number | undefined;
  answer(value: HistoryEntry[] | null): void;
}

/** A history whose reads wait until the test answers them, in `pending`. */
function manual() {
  const pending: Pending[] = [];
  const history: BrokerHistory = {
    append: async () => '1000-0',
    position: async () => '1000-0',
    readSince: (_scope, afterId, limit) =>
      new Promise((resolve) => pending.push({ afterId, limit, answer: resolve })),
  };
  return { history, pending };
}

/** Lets every settled promise's callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('Limiter', () => {
  it('runs at most `limit` at once, the others first come first served; a throw frees its slot', async () => {
    const limiter = new Limiter(2);
    const started: number[] = [];
    const finish: Array<() => void> = [];
    const runs = [0, 1, 2, 3, 4].map((n) =>
      limiter.run(() => {
        started.push(n);
        if (n === 2) throw new Error('boom');
        return new Promise<number>((resolve) => finish.push(() => resolve(n)));
      }),
    );
    const failed = assert.rejects(runs[2] as Promise<number>, /boom/);
    assert.deepEqual(started, [0, 1]);
    assert.deepEqual([limiter.running, limiter.queued], [2, 3]);
    finish[1]?.();
    await settle();
    // 2 started and threw, which let 3 start.
    assert.deepEqual(started, [0, 1, 2, 3]);
    await failed;
    finish[0]?.();
    finish[2]?.();
    await settle();
    finish[3]?.();
    assert.deepEqual(await Promise.all([runs[0], runs[1], runs[3], runs[4]]), [0, 1, 3, 4]);
    assert.deepEqual([limiter.running, limiter.queued, limiter.peak], [0, 0, 2]);
  });
});

describe('SharedHistoryReads', () => {
  it('shares a read not sent yet, never one running: calls made meanwhile share the next', async () => {
    const { history, pending } = manual();
    const reads = new SharedHistoryReads(history, 1);
    const other = reads.readSince('gym:2', '1000-0');
    const a = reads.readSince('gym:1', '1000-0');
    const b = reads.readSince('gym:1', '1000-0');
    assert.equal(pending.length, 1, 'gym:1 waits for the only slot');
    pending[0]?.answer([]);
    await other;
    await settle();
    assert.equal(pending.length, 2, 'one read for both waiting calls');
    const c = reads.readSince('gym:1', '1000-0');
    const d = reads.readSince('gym:1', '1000-0');
    await settle();
    assert.equal(pending.length, 2, 'c and d wait for the running read to end');
    pending[1]?.answer([entry(1)]);
    assert.deepEqual(await a, [entry(1)]);
    assert.equal(await a, await b, 'the same answer');
    await settle();
    assert.equal(pending.length, 3, 'then one more read, sent after c and d were made');
    pending[2]?.answer([entry(1), entry(2)]);
    assert.deepEqual(await c, [entry(1), entry(2)]);
    assert.equal(await c, await d);
    assert.deepEqual(reads.stats(), { sent: 3, shared: 2, running: 0, queued: 0, peak: 1 });
  });

  it('takes a running read whose answer cannot be stale: a full page, or null', async () => {
    const { history, pending } = manual();
    const reads = new SharedHistoryReads(history, 4);
    const a = reads.readSince('gym:1', '1000-0', 2);
    await settle();
    const b = reads.readSince('gym:1', '1000-0', 2);
    pending[0]?.answer(entries(1, 2));
    assert.equal(await b, await a, 'a full page is what follows 1000-0 for good');
    const c = reads.readSince('gym:1', '1000-9');
    await settle();
    const d = reads.readSince('gym:1', '1000-9');
    pending[1]?.answer(null);
    assert.equal(await d, null, 'a position that is gone stays gone');
    assert.equal(await c, null);
    assert.equal(pending.length, 2);
  });

  it("freezes what it shares: no caller can change another's answer", async () => {
    const { history, pending } = manual();
    const reads = new SharedHistoryReads(history, 4);
    const a = reads.readSince('gym:1', '1000-0');
    pending[0]?.answer([entry(1)]);
    const answer = (await a) as HistoryEntry[];
    assert.throws(() => answer.push(entry(2)), TypeError);
    assert.throws(() => {
      (answer[0] as { id: string }).id = 'x';
    }, TypeError);
  });

  it('keeps an answer for its hub while the hub has delivered nothing newer; extends it by a tail read', async () => {
    const { history, pending } = manual();
    const reads = new SharedHistoryReads(history, 4);
    const hub = hubAt(3);
    const first = reads.readSince('gym:1', '1000-0', undefined, undefined, hub);
    pending[0]?.answer(entries(1, 3));
    assert.deepEqual(await first, entries(1, 3));
    assert.equal(
      await reads.readSince('gym:1', '1000-0', undefined, undefined, hub),
      await first,
      'reused',
    );
    // The hub delivers event 4: the answer misses it, only what follows 1000-3 is read.
    hub.lastSeen = { ms: 1000, seq: 4 };
    const longer = reads.readSince('gym:1', '1000-0', undefined, undefined, hub);
    await settle();
    assert.equal(pending.length, 2);
    assert.equal(pending[1]?.afterId, '1000-3');
    pending[1]?.answer([entry(4)]);
    assert.deepEqual(await longer, entries(1, 4));
    assert.equal(await reads.readSince('gym:1', '1000-0', undefined, undefined, hub), await longer);
    // Another hub of the scope (this one idled out and came back), or a recovery: afresh.
    const other = hubAt(4);
    const elsewhere = reads.readSince('gym:1', '1000-0', undefined, undefined, other);
    await settle();
    assert.equal(pending[2]?.afterId, '1000-0', 'another hub reads afresh');
    pending[2]?.answer(entries(1, 4));
    const kept = await elsewhere;
    const nowhere = reads.readSince('gym:1', '1000-0');
    await settle();
    assert.equal(pending.length, 4, 'so does a recovery (no hub)');
    pending[3]?.answer(entries(1, 4));
    await nowhere;
    assert.equal(
      await reads.readSince('gym:1', '1000-0', undefined, undefined, other),
      kept,
      'its own hub only',
    );
    reads.forget('gym:1');
    reads.readSince('gym:1', '1000-0', undefined, undefined, other);
    await settle();
    assert.equal(pending.length, 5, 'forgotten after a gap');
  });

  it('is bounded by maxConcurrentHistoryReads, a whole number of at least 1', () => {
    for (const bad of [0, 1.5, -1]) {
      assert.throws(
        () =>
          createSseServer({
            broker: createMemoryBroker(),
            resolver: () => ({ userId: '1', scopeId: '1' }),
            router: () => ['gym:1:*'],
            maxConcurrentHistoryReads: bad,
          }),
        (err) => isEventrailError(err) && err.code === 'invalid-option',
      );
    }
  });
});
