import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryBroker } from '../src/brokers/memory.js';
import type { BackpressurePolicy, DisconnectReason } from '../src/types.js';
import { queryResolver, queryRouter, startApp } from './helpers/apps.js';
import { missed } from './helpers/gaps.js';
import { openSource, sleep, waitFor } from './helpers/sse.js';
import { numberedLog, stalledClient } from './helpers/stalled.js';

/** Events published after the policy first acted on the stalled client. */
const after = 20;
/** The most events published while waiting for it to act: fewer bytes than `maxBufferedBytes`. */
const MAX_EVENTS = 600;

async function run(policy: BackpressurePolicy) {
  const drops: BackpressurePolicy[] = [];
  const disconnects: DisconnectReason[] = [];
  const broker = createMemoryBroker();
  const app = await startApp('node:http', {
    broker,
    resolver: queryResolver,
    router: queryRouter,
    bufferSize: 4,
    backpressure: policy,
    // These tests are about time without a drain; the byte bound gets its own test (limits).
    maxStallMs: 1000,
    maxBufferedBytes: 64 * 1024 * 1024,
    maxPayloadBytes: 1024 * 1024,
    hooks: {
      onClientDropped: (_c, action) => drops.push(action),
      onClientDisconnect: (_c, reason) => disconnects.push(reason),
    },
  });
  const healthy = openSource(`${app.url}/events?scope=1`, ['big.event']);
  await healthy.opened;
  const stalled = await stalledClient(app.url);
  await waitFor(() => app.sse.stats().connections === 2, 'both connected');
  const big = 'x'.repeat(64 * 1024);
  // Publish until the stalled client's socket has stayed full for maxStallMs, then some more.
  let count = 0;
  let tail = after;
  while (count < MAX_EVENTS && (drops.length === 0 || tail-- > 0)) {
    await app.sse.publisher.publishEvent('gym:1:big', {
      eventType: 'big.event',
      data: `${count++}:${big}`,
    });
    // Give the healthy client time to read, as a real one would.
    await sleep(5);
  }
  assert.ok(drops.length > 0, `the policy acted on the stalled client within ${count} events`);
  await waitFor(
    () => healthy.events.length === count,
    `the healthy client's ${count} events`,
    30_000,
  );
  assert.deepEqual(
    healthy.events.map((e) => Number(e.data.slice(1, e.data.indexOf(':')))),
    [...Array(count).keys()],
    'the healthy client got every event in order',
  );
  return { app, broker, healthy, stalled, drops, disconnects, count };
}

describe('backpressure', () => {
  it('disconnect: a client that stops reading is cut; the others get everything', async () => {
    const { app, broker, healthy, stalled, drops, disconnects } = await run('disconnect');
    await waitFor(() => app.sse.stats().connections === 1, 'the stalled client cut');
    assert.deepEqual(drops, ['disconnect']);
    assert.deepEqual(disconnects, ['backpressure']);
    healthy.close();
    stalled.socket.destroy();
    await app.stop();
    await broker.close();
  });

  it('drop: a client that stops reading skips events, stays connected, and recovers', async () => {
    const { app, broker, healthy, stalled, drops, disconnects, count } = await run('drop');
    assert.ok(drops.length > 10, `events were dropped for the stalled client (${drops.length})`);
    assert.ok(drops.every((d) => d === 'drop'));
    assert.deepEqual(disconnects, []);
    assert.equal(app.sse.stats().connections, 2);
    // Reading again drains the buffer: one resync, at the gap, then new events flow to it again.
    let text = stalled.received();
    stalled.socket.on('data', (chunk) => {
      text += chunk.toString();
    });
    stalled.socket.resume();
    await waitFor(() => text.includes('event: eventrail.resync'), 'the resync once drained', 5000);
    const before = drops.length;
    await app.sse.publisher.publishEvent('gym:1:big', {
      eventType: 'big.event',
      data: `${count}`,
    });
    await waitFor(
      () => text.includes(`data: "${count}"`),
      'the recovered client gets new events',
      5000,
    );
    const log = numberedLog(text);
    const got = log.filter((e) => e.kind === 'event').length;
    assert.equal(
      got + drops.length,
      count + 1,
      'every event was either written or counted dropped',
    );
    assert.equal(log.filter((e) => e.kind === 'resync').length, 1, 'one resync');
    assert.equal(app.sse.stats().resyncs, 1);
    const all = [...Array(count + 1).keys()].map((seq) => ({ p: 0, seq }));
    assert.deepEqual(missed(log, all), [], `the resync stands at the gap: ${JSON.stringify(log)}`);
    assert.equal(drops.length, before);
    healthy.close();
    stalled.socket.destroy();
    await app.stop();
    await broker.close();
  });
});
