/**
 * Catch-up at any depth and bursts under flow control, on a real Redis: a client far behind gets
 * every event it missed, in order, and keeps its stream; the replay is read in pages and written
 * as the client drains, so memory stays bounded whatever the history's size; a burst reaches a
 * client that reads, whole.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { DisconnectReason } from '../src/types.js';
import { type RedisApp, startRedisApp } from './helpers/apps.js';
import { missed } from './helpers/gaps.js';
import { redisSkipReason } from './helpers/redis.js';
import { redisPerFile } from './helpers/redis-brokers.js';
import { readSeq, type SeqReader } from './helpers/seq-reader.js';
import { waitFor } from './helpers/sse.js';
import { stalledClient } from './helpers/stalled.js';

const redis = redisPerFile();

/** About 1 KiB of data per event. */
const PAD = 'x'.repeat(1000);

/**
 * The most the process's retained memory (heap and buffers, after a full GC) may grow while a
 * client replays 20,000 events of 1 KiB (20 MB). Paged, the replay holds one page (256 entries)
 * and one socket's worth of bytes; read at once it held the whole history as strings and frames
 * plus its bytes in the socket's buffer. Measured on 2026-12-07 (the GC settled as
 * {@link exposedGc} says): paged 3.5-4.3 MiB on Node 20, 22 and 24, the pages kept for a storm's
 * later clients bounded per scope (src/fanout/kept-answers.ts; 5.9-8.6 MiB when a scope could keep
 * all 2 MiB of text then allowed); the whole history at once (HISTORY_PAGE set to 20,000) 57.4 MiB
 * on Node 20 and 24. The bound sits between the two.
 */
const MAX_REPLAY_GROWTH = 16 * 1024 * 1024;

async function app(
  historySize: number,
  disconnects: DisconnectReason[],
  maxStallMs?: number,
  publishTimeoutMs?: number,
): Promise<RedisApp> {
  const { url } = await redis();
  return startRedisApp(
    { url, historySize, publishTimeoutMs },
    { maxStallMs, hooks: { onClientDisconnect: (_c, reason) => disconnects.push(reason) } },
  );
}

/** Publishes events numbered `from`..`to - 1`, one after the other (history order = numbers). */
async function publishNumbered(a: RedisApp, scope: number, from: number, to: number, pad = PAD) {
  for (let seq = from; seq < to; seq++)
    await a.sse.publisher.publishEvent(`gym:${scope}:a`, {
      eventType: 'app.seq',
      data: { p: 0, seq, pad },
    });
}

/** A client's position in scope `scope`: the id of its hello, then it goes away. */
async function positionOf(a: RedisApp, scope: number): Promise<string> {
  const first = readSeq(`${a.url}/events?scope=${scope}`);
  await waitFor(() => first.lastId() !== undefined, 'the hello and its id');
  first.stop();
  return first.lastId() as string;
}

/** Every one of `count` events, once, in order, and no resync. */
function assertWhole(reader: SeqReader, count: number): void {
  const all = [...Array(count).keys()].map((seq) => ({ p: 0, seq }));
  const gaps = missed(reader.log, all);
  assert.equal(
    gaps.length,
    0,
    `${gaps.length} of ${count} events missing without a resync at the gap (stream ended: ${reader.ended()})`,
  );
  const seqs = reader.log.flatMap((e) => (e.kind === 'event' ? [e.seq] : []));
  assert.equal(reader.log.length, seqs.length, 'no resync: the replay was exact');
  assert.ok(
    seqs.every((seq, i) => seq === i),
    'each event once, in order',
  );
}

/** The stream is still live: a new event reaches it. */
async function stillLive(a: RedisApp, reader: SeqReader, scope: number, seq: number) {
  await publishNumbered(a, scope, seq, seq + 1);
  await waitFor(() => reader.events() === seq + 1, 'a new event on the same stream', 30_000);
  assert.equal(reader.ended(), false, 'the stream was never cut');
}

/**
 * A full GC whose figures can be read at once: V8 frees the buffers of dead ArrayBuffers on a
 * sweeper that may still run after `gc()` returns (a second GC finishes it first), and until then
 * `process.memoryUsage()` counts them. One GC alone let Node 24 report 20-40 MiB of buffers
 * already dead (its 64 KiB Buffer pool slabs), a heap snapshot at that moment 6 MiB.
 */
function exposedGc(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  return () => {
    gc();
    gc();
  };
}

const retained = (): number => {
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
};

describe('catch-up at any depth, under flow control (Redis)', { skip: redisSkipReason() }, () => {
  it('a client 1,000 behind at 1 KiB each (the default history) gets all, in order, and keeps its stream', async (t) => {
    const disconnects: DisconnectReason[] = [];
    const a = await app(1000, disconnects);
    t.after(() => a.stop());
    const from = await positionOf(a, 1);
    await publishNumbered(a, 1, 0, 1000);
    const reader = readSeq(`${a.url}/events?scope=1`, from);
    t.after(() => reader.stop());
    await waitFor(() => reader.events() === 1000 || reader.ended(), 'the replay', 60_000);
    assertWhole(reader, 1000);
    await stillLive(a, reader, 1, 1000);
    assert.deepEqual(disconnects, ['client-closed'], 'only the first, which left on its own');
  });

  it(`historySize 20,000: a client 20,000 behind gets all, in order, keeps its stream, and memory grows by less than ${MAX_REPLAY_GROWTH >> 20} MiB`, async (t) => {
    const gc = exposedGc();
    const disconnects: DisconnectReason[] = [];
    const a = await app(20_000, disconnects);
    t.after(() => a.stop());
    const from = await positionOf(a, 2);
    await publishNumbered(a, 2, 0, 20_000);
    gc();
    const base = retained();
    const baseRss = process.memoryUsage().rss;
    let peak = 0;
    let peakRss = 0;
    // A full GC now and then: what the replay retains, not the garbage it leaves.
    const sampler = setInterval(() => {
      gc();
      peak = Math.max(peak, retained() - base);
      peakRss = Math.max(peakRss, process.memoryUsage().rss - baseRss);
    }, 100);
    const reader = readSeq(`${a.url}/events?scope=2`, from);
    t.after(() => reader.stop());
    try {
      await waitFor(() => reader.events() === 20_000 || reader.ended(), 'the replay', 120_000);
    } finally {
      clearInterval(sampler);
    }
    assertWhole(reader, 20_000);
    await stillLive(a, reader, 2, 20_000);
    console.log(
      `replay of 20,000 x 1 KiB: retained memory grew by at most ${(peak / 2 ** 20).toFixed(1)} MiB (rss ${(peakRss / 2 ** 20).toFixed(1)} MiB)`,
    );
    assert.ok(
      peak < MAX_REPLAY_GROWTH,
      `retained memory grew by ${(peak / 2 ** 20).toFixed(1)} MiB during the replay`,
    );
  });

  it('a burst of 10,000 concurrent publishes reaches one fast reader whole, on its stream', async (t) => {
    const disconnects: DisconnectReason[] = [];
    // 10,000 appends queued at once: on a busy machine the last ones wait longer than the default
    // 5 s command deadline, which bounds a hang and is not what this test is about.
    const a = await app(1000, disconnects, undefined, 120_000);
    t.after(() => a.stop());
    const reader = readSeq(`${a.url}/events?scope=3`);
    t.after(() => reader.stop());
    await waitFor(() => a.sse.stats().connections === 1 && reader.lastId() !== undefined, 'open');
    await Promise.all(
      Array.from({ length: 10_000 }, (_, seq) =>
        a.sse.publisher.publishEvent('gym:3:a', { eventType: 'app.seq', data: { p: 0, seq } }),
      ),
    );
    await waitFor(() => reader.events() === 10_000 || reader.ended(), 'the burst', 60_000);
    assert.deepEqual(disconnects, [], 'the reader was never cut');
    const seqs = reader.log.flatMap((e) => (e.kind === 'event' ? [e.seq] : []));
    assert.equal(reader.log.length, 10_000, 'no resync');
    assert.equal(new Set(seqs).size, 10_000, 'each event once');
    assert.equal(reader.ended(), false);
  });

  it('a client that stops reading during its replay is cut after maxStallMs (disconnect)', async (t) => {
    const disconnects: DisconnectReason[] = [];
    const a = await app(1000, disconnects, 500);
    t.after(() => a.stop());
    const from = await positionOf(a, 4);
    // 14 MB behind (within the history of 1,000): more than the kernel's socket buffers take.
    await publishNumbered(a, 4, 0, 900, 'x'.repeat(16 * 1024));
    const stalled = await stalledClient(a.url, `/events?scope=4&lastEventId=${from}`);
    t.after(() => stalled.socket.destroy());
    await waitFor(() => disconnects.includes('backpressure'), 'the stalled replay cut', 30_000);
    assert.equal(a.sse.stats().connections, 0);
  });
});
