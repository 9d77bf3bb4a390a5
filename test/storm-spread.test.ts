/**
 * A reconnect storm spread out on both sides: the instance that drains closes its streams at an
 * even pace over `drainWindowMs`, and the instance that receives them defers a burst past
 * `maxOpeningsPerSecond` to slots of its own (200 with a `retry:`), refusing nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryBroker } from '../src/brokers/memory.js';
import { DRAIN_MIN_RATE_PER_S } from '../src/server/drain.js';
import { queryResolver, queryRouter, startApp } from './helpers/apps.js';
import { openRaw, openSource, type RawStream, waitFor } from './helpers/sse.js';

async function app(options: { maxOpeningsPerSecond?: number; drainWindowMs?: number }) {
  const opened: number[] = [];
  const closed: number[] = [];
  const running = await startApp('node:http', {
    broker: createMemoryBroker(),
    resolver: queryResolver,
    router: queryRouter,
    drainJitterMs: 1_000,
    ...options,
    hooks: {
      onClientConnect: () => opened.push(performance.now()),
      onClientDisconnect: () => closed.push(performance.now()),
    },
  });
  return { ...running, opened, closed };
}

describe('reconnect storms, spread', () => {
  it('a burst past maxOpeningsPerSecond: every request opens or gets its own slot, none refused', async () => {
    const a = await app({ maxOpeningsPerSecond: 5 });
    try {
      // Ten at once (each its own user: the per-principal limit stays out of it).
      const streams = await Promise.all(
        Array.from({ length: 10 }, (_, i) => openRaw(`${a.url}/events?user=${i}`)),
      );
      await waitFor(
        () => a.sse.stats().connections + a.sse.stats().refused.maxOpeningsPerSecond === 10,
        'every request answered',
      );
      const deferred: RawStream[] = streams.filter((s) => s.events.length === 0);
      assert.ok(
        streams.every((s) => s.status === 200),
        'never a status that stops a browser',
      );
      assert.ok(deferred.length >= 1 && deferred.length <= 5, `${deferred.length} deferred`);
      await Promise.all(deferred.map((s) => s.ended));
      for (const s of deferred) assert.ok(s.text.startsWith(': maxOpeningsPerSecond\n'), s.text);
      // Each its own slot of 200 ms, at least one slot ahead, within the backlog (the exact slots,
      // on a clock of its own: test/opening-rate.unit.test.ts). A machine slower than the burst
      // only lets slots pass, which shortens the later retries.
      const retries = deferred.map((s) => s.retry ?? -1).sort((x, y) => x - y);
      assert.ok(
        retries.every((r) => r >= 200 && r <= (deferred.length + 1) * 200),
        `retries ${retries}`,
      );
      assert.equal(new Set(retries).size, retries.length, `retries ${retries}`);
      for (const s of streams) s.abort();
    } finally {
      await a.stop();
    }
  });

  it('browsers deferred come back at their slots and all open, spread at the rate', async () => {
    const a = await app({ maxOpeningsPerSecond: 4 });
    try {
      const tabs = Array.from({ length: 12 }, (_, i) => openSource(`${a.url}/events?user=${i}`));
      await waitFor(() => a.sse.stats().connections === 12, 'all twelve open', 30_000);
      assert.ok(a.sse.stats().refused.maxOpeningsPerSecond >= 1);
      const sorted = [...a.opened].sort((x, y) => x - y);
      // 4 at once, then 8 more at 4 a second at most (the bucket refills at the rate).
      const span = (sorted.at(-1) ?? 0) - (sorted[0] ?? 0);
      assert.ok(span >= 1_500, `opened over ${Math.round(span)} ms`);
      for (const tab of tabs) tab.close();
    } finally {
      await a.stop();
    }
  });

  for (const { windowMs, streams } of [
    { windowMs: 400, streams: 600 },
    { windowMs: 10_000, streams: 300 },
  ]) {
    const span = Math.min(windowMs, (streams * 1_000) / DRAIN_MIN_RATE_PER_S);
    it(`close() with ${streams} streams and drainWindowMs ${windowMs}: closes spread over ${span} ms, every browser told to retry`, async (t) => {
      const a = await app({ drainWindowMs: windowMs });
      const raws = await Promise.all(
        Array.from({ length: streams }, (_, i) => openRaw(`${a.url}/events?user=${i}`)),
      );
      t.after(() => a.stop());
      await waitFor(() => a.sse.stats().connections === streams, 'all open');
      const closing = performance.now();
      await a.sse.close();
      assert.equal(a.sse.stats().connections, 0, 'close() resolves once every stream ended');
      await Promise.all(raws.map((r) => r.ended));
      assert.equal(a.closed.length, streams);
      // Stream i is closed once i/n of the span has passed since close(): the last no sooner
      // than (n-1)/n, the first at once. Counted from the call, not from the first close, which
      // a busy machine may record late; the first must come before the last is due (not all at
      // the end of the window).
      const sorted = [...a.closed].sort((x, y) => x - y);
      const lastDue = (span * (streams - 1)) / streams;
      const first = (sorted[0] ?? 0) - closing;
      const last = (sorted.at(-1) ?? 0) - closing;
      assert.ok(last >= lastDue - 1, `the last closed ${last} ms after close(), due at ${lastDue}`);
      assert.ok(
        first < lastDue,
        `the first closed ${first} ms after close(), the last due at ${lastDue}`,
      );
      for (const r of raws) {
        // The retry of the drain: retryMs (3 s) plus up to drainJitterMs, after the stream's own.
        assert.ok((r.retry ?? 0) >= 3_000 && (r.retry ?? 0) <= 4_000, `retry ${r.retry}`);
      }
    });
  }
});
