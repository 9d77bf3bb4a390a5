/**
 * Reconnect storms on a real Redis: thousands of clients, each hundreds of events behind, come back
 * at once with their Last-Event-IDs. Every one gets every event it missed, once and in order
 * (the delivery oracle), and identical history reads are shared: Redis runs far fewer XRANGE than
 * there are clients (counted by Redis itself, `INFO commandstats`).
 *
 * The suite runs 1,000 clients; `EVENTRAIL_STORM_CLIENTS=5000` runs the 5,000 (as the
 * bench's catch-up scenario does).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RedisApp, startRedisApp } from './helpers/apps.js';
import { rawEventStream } from './helpers/raw-wire.js';
import { type RedisProcess, redisSkipReason, startRedis } from './helpers/redis.js';
import { waitFor } from './helpers/sse.js';
import { callsBetween, commandCalls, type ResumePoint, storm } from './helpers/storm.js';

const CLIENTS = Number(process.env.EVENTRAIL_STORM_CLIENTS ?? 1000);
/** How far behind the furthest clients are: the default history (1,000) holds them all. */
const BEHIND = 500;
/** Clients resume from this many different ids (0 to 9 events apart). */
const IDS = 10;
/** Clients connect in batches of this many; after each, one more event is published. */
const BATCH = 50;
const DURING = Math.ceil(CLIENTS / BATCH);
const PAD = 'x'.repeat(100);

describe('reconnect storm', { skip: redisSkipReason() }, () => {
  let redis: RedisProcess;
  let app: RedisApp;
  let port: number;

  before(async () => {
    redis = await startRedis();
    app = await startRedisApp(
      { url: redis.url },
      // A starved test machine may take seconds to open a stream: not what this test is about.
      { maxConnections: CLIENTS + 10, heartbeatMs: 0, openTimeoutMs: 60_000 },
    );
    port = Number(new URL(app.url).port);
  });
  after(async () => {
    await app?.stop();
    await redis?.stop();
  });

  it(`${CLIENTS} clients ${BEHIND} events behind come back at once: all catch up, reads shared`, async (t) => {
    // An observer learns the ids the clients resume from: its hello, then the first events.
    const ids: string[] = [];
    const observer = rawEventStream(port, '/events?scope=1&user=observer', {}, (event) => {
      if (event.id !== undefined) ids.push(event.id);
    });
    await waitFor(() => ids.length === 1, 'the observer connected');
    const publish = (seq: number) =>
      app.sse.publisher.publishEvent('gym:1:seq', {
        eventType: 'seq.x',
        data: { p: 0, seq, pad: PAD },
      });
    for (let seq = 0; seq < BEHIND; seq++) await publish(seq);
    await waitFor(() => ids.length === BEHIND + 1, 'the observer got every event', 10_000);
    observer.close();
    const resume: ResumePoint[] = ids.slice(0, IDS).map((id, from) => ({ id, from }));

    const reads = app.sse.stats().historyReads;
    const calls = await commandCalls(redis.port);
    const { failures, ms } = await storm({
      port,
      path: (i) => `/events?scope=1&user=${i}`,
      resume,
      clients: CLIENTS,
      seqs: BEHIND + DURING,
      event: 'seq.x',
      batch: BATCH,
      // Events keep coming during the storm: a replay answer read before one of them reached
      // the hub must not be reused for a client that joined the hub after it did.
      between: (connected) => publish(BEHIND + connected / BATCH - 1),
    });
    const used = callsBetween(calls, await commandCalls(redis.port));
    const after = app.sse.stats().historyReads;
    const xrange = used.get('xrange') ?? 0;
    t.diagnostic(
      `${CLIENTS} clients caught up in ${Math.round(ms)} ms; Redis ran ${used.get('total')} commands ` +
        `(${((used.get('total') ?? 0) / CLIENTS).toFixed(3)} per client), ${xrange} XRANGE; ` +
        `${after.sent - reads.sent} reads sent, ${after.shared - reads.shared} shared, peak ${after.peak} at once; ` +
        `by command: ${JSON.stringify(Object.fromEntries([...used].filter(([, n]) => n > 0)))}`,
    );
    const { refused, disconnects } = app.sse.stats();
    assert.deepEqual(
      failures.slice(0, 5),
      [],
      `${failures.length} clients failed the oracle; refused ${JSON.stringify(refused)}, disconnects ${JSON.stringify(disconnects)}`,
    );
    assert.ok(
      xrange * 10 <= CLIENTS,
      `identical reads are shared: ${xrange} XRANGE for ${CLIENTS} clients`,
    );
    assert.equal(after.sent - reads.sent, xrange, 'every read the server sent was one XRANGE');
  });
});
