import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryBroker } from '../src/brokers/memory.js';
import { createSseServer, EventrailError } from '../src/index.js';
import type { SseServerOptions } from '../src/options.js';
import type { BackpressurePolicy, DisconnectReason } from '../src/types.js';
import { queryResolver, queryRouter, startApp, type TestPrincipal } from './helpers/apps.js';
import { openRaw, type RawStream, sleep, waitFor } from './helpers/sse.js';
import { numberedLog, stalledClient } from './helpers/stalled.js';

type Options = Omit<SseServerOptions<TestPrincipal>, 'broker' | 'resolver' | 'router'>;

async function app(options: Options = {}) {
  const errors: Error[] = [];
  const disconnects: DisconnectReason[] = [];
  const drops: BackpressurePolicy[] = [];
  /** The connection id of each drop. */
  const droppedFor: string[] = [];
  const broker = createMemoryBroker();
  const running = await startApp('node:http', {
    broker,
    resolver: queryResolver,
    router: queryRouter,
    ...options,
    hooks: {
      onError: (e) => errors.push(e),
      onClientDisconnect: (_c, reason) => disconnects.push(reason),
      onClientDropped: (c, action) => {
        drops.push(action);
        droppedFor.push(c.id);
      },
    },
  });
  return { ...running, broker, errors, disconnects, drops, droppedFor };
}

/** A stream that was refused by a limit: 200, a comment naming the limit, a long retry, the end. */
async function assertRefused(stream: RawStream, limit: string, minRetry: number): Promise<void> {
  await stream.ended;
  assert.equal(stream.status, 200, 'never a status that stops the browser for good');
  assert.ok(stream.text.startsWith(`: ${limit}\n`), stream.text);
  assert.ok(
    (stream.retry ?? 0) >= minRetry && (stream.retry ?? 0) <= minRetry * 1.5,
    `retry ${stream.retry}`,
  );
  assert.equal(stream.events.length, 0);
}

describe('connection limits', () => {
  it('maxConnectionsPerPrincipal: the next tab retries later; other users are not affected', async () => {
    const a = await app({ maxConnectionsPerPrincipal: 2, limitRetryMs: 20_000 });
    const first = await openRaw(`${a.url}/events?user=u`);
    const second = await openRaw(`${a.url}/events?user=u`);
    await waitFor(() => a.sse.stats().connections === 2, 'two streams');
    await assertRefused(
      await openRaw(`${a.url}/events?user=u`),
      'maxConnectionsPerPrincipal',
      20_000,
    );
    assert.ok(a.errors.some((e) => e instanceof EventrailError && e.code === 'limit-exceeded'));
    const other = await openRaw(`${a.url}/events?user=v`);
    await waitFor(() => a.sse.stats().connections === 3, 'another user is admitted');
    first.abort();
    await waitFor(() => a.sse.stats().connections === 2, 'a tab closed');
    const again = await openRaw(`${a.url}/events?user=u`);
    await waitFor(() => a.sse.stats().connections === 3, 'the freed slot is usable again');
    for (const s of [second, other, again]) s.abort();
    await a.stop();
  });

  it('maxConnections: the process refuses past its cap, with a retry', async () => {
    const a = await app({ maxConnections: 3, limitRetryMs: 1000 });
    const open = await Promise.all([1, 2, 3].map((u) => openRaw(`${a.url}/events?user=${u}`)));
    await waitFor(() => a.sse.stats().connections === 3, 'three streams');
    const refused = await Promise.all(
      [4, 5, 6, 7, 8].map((u) => openRaw(`${a.url}/events?user=${u}`)),
    );
    for (const s of refused) await assertRefused(s, 'maxConnections', 1000);
    // Spread out, not one constant: five draws from 501 values all equal is a 1 in 6e10 chance.
    const retries = refused.map((s) => s.retry);
    assert.ok(new Set(retries).size > 1, `different retries: ${retries}`);
    for (const s of open) s.abort();
    await a.stop();
  });

  it('maxRoutesPerPrincipal: a router returning more is a 500 reported to onError', async () => {
    const a = await app({ maxRoutesPerPrincipal: 2 });
    const routes = ['gym:1:a', 'gym:1:b', 'gym:1:c'].map((r) => `route=${r}`).join('&');
    assert.equal((await fetch(`${a.url}/events?${routes}`)).status, 500);
    assert.ok(a.errors.some((e) => e instanceof EventrailError && e.code === 'limit-exceeded'));
    await a.stop();
  });

  it('the most scopes maxRoutesPerPrincipal allows on one stream print no listener warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const a = await app();
      // The default maxRoutesPerPrincipal (64), each a scope of its own: one wait on the broker.
      const routes = Array.from({ length: 64 }, (_, i) => `route=gym:${i}:*`).join('&');
      const s = await openRaw(`${a.url}/events?${routes}`);
      await waitFor(() => s.events.some((e) => e.event === 'eventrail.connected'), 'the hello');
      await a.sse.publisher.publishEvent('gym:63:x', { eventType: 'x.changed', data: 1 });
      await waitFor(() => s.events.length === 2, 'an event of the last scope');
      s.abort();
      await a.stop();
      // A warning is emitted on a later tick than the listener it counts: that tick is long past.
      assert.deepEqual(
        warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message),
        [],
      );
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('maxPayloadBytes: a too large event is refused before the broker', async () => {
    const a = await app({ maxPayloadBytes: 1024 });
    const seen: string[] = [];
    await a.broker.subscribe('*', (m) => seen.push(m.payload));
    await assert.rejects(
      a.sse.publisher.publishEvent('gym:1:a', { eventType: 'x.y', data: 'x'.repeat(2000) }),
      (e) => e instanceof EventrailError && e.code === 'payload-too-large',
    );
    await a.sse.publisher.publishEvent('gym:1:a', { eventType: 'x.y', data: 'x'.repeat(900) });
    await sleep(50);
    assert.equal(seen.length, 1);
    await a.stop();
  });

  it('a broker message far over maxPayloadBytes (another program) resyncs its scope, cuts nobody', async () => {
    const a = await app({ maxPayloadBytes: 1024 });
    const one = await openRaw(`${a.url}/events?scope=1`);
    const two = await openRaw(`${a.url}/events?scope=2`);
    await waitFor(() => one.events.length === 1 && two.events.length === 1, 'connected');
    // Published past eventrail's publisher, as any program with access to the broker can.
    await a.broker.publish('gym:1:a', JSON.stringify({ event_type: 'x.y', data: 'x'.repeat(1e6) }));
    await waitFor(() => one.events.length === 2, 'the resync');
    assert.equal(one.events[1]?.event, 'eventrail.resync');
    assert.ok(one.text.length < 10_000, 'the megabyte was never written');
    assert.ok(a.errors.some((e) => e instanceof EventrailError && e.code === 'payload-too-large'));
    // The clients stay connected and live; the other scope saw nothing.
    await a.sse.publisher.publishEvent('gym:1:a', { eventType: 'x.y', data: 'small' });
    await waitFor(() => one.events.length === 3, 'the next event');
    assert.equal(one.events[2]?.data, '"small"');
    assert.equal(two.events.length, 1);
    assert.equal(a.sse.stats().connections, 2);
    one.abort();
    two.abort();
    await a.stop();
  });

  it('maxConnectionLifetimeMs: an old stream is drained and resumes where it was', async () => {
    const a = await app({ maxConnectionLifetimeMs: 300, retryMs: 100, drainJitterMs: 0 });
    const first = await openRaw(`${a.url}/events`);
    await waitFor(() => first.events.length === 1, 'connected');
    await first.ended;
    assert.match(first.text, /retry: 100\n\n$/);
    assert.deepEqual(a.disconnects, ['expired']);
    await a.sse.publisher.publishEvent('gym:1:a', { eventType: 'x.y', data: 'while away' });
    const back = await openRaw(`${a.url}/events`, {
      headers: { 'Last-Event-ID': first.events[0]?.id ?? '' },
    });
    await waitFor(() => back.events.some((e) => e.data === '"while away"'), 'the replayed event');
    back.abort();
    await a.stop();
  });
});

describe('cross-origin', () => {
  it('refuses "*" and malformed origins at construction', () => {
    const base = { broker: createMemoryBroker(), resolver: queryResolver, router: queryRouter };
    for (const allowedOrigins of [['*'], ['not a url'], ['https://app.example/path']]) {
      assert.throws(
        () => createSseServer({ ...base, allowedOrigins }),
        (e) => e instanceof EventrailError && e.code === 'invalid-option',
      );
    }
  });

  it('answers a foreign origin 403 before resolving or subscribing; an allowed one gets CORS headers', async () => {
    let resolved = 0;
    const a = await startApp('node:http', {
      broker: createMemoryBroker(),
      resolver: (r) => {
        resolved++;
        return queryResolver(r);
      },
      router: queryRouter,
      allowedOrigins: ['https://app.example'],
      allowCredentials: true,
    });
    const foreign = await fetch(`${a.url}/events`, { headers: { Origin: 'https://evil.example' } });
    assert.equal(foreign.status, 403);
    assert.equal(resolved, 0);
    assert.equal(a.sse.stats().hubs, 0);
    const allowed = await openRaw(`${a.url}/events`, {
      headers: { Origin: 'https://app.example' },
    });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.equal(allowed.headers.get('access-control-allow-credentials'), 'true');
    assert.equal(allowed.headers.get('vary'), 'Origin');
    allowed.abort();
    const sameOrigin = await openRaw(`${a.url}/events`);
    assert.equal(sameOrigin.status, 200);
    sameOrigin.abort();
    await a.stop();
  });
});

describe('slow clients', () => {
  it('maxBufferedBytes: a stalled client is cut by bytes even under the event count', async () => {
    const a = await app({
      bufferSize: 100_000,
      maxBufferedBytes: 256 * 1024,
      maxPayloadBytes: 1 << 20,
    });
    const { socket } = await stalledClient(a.url, '/events');
    await waitFor(() => a.sse.stats().connections === 1, 'connected');
    for (let i = 0; i < 200 && a.sse.stats().connections === 1; i++) {
      await a.sse.publisher.publishEvent('gym:1:a', {
        eventType: 'x.y',
        data: 'x'.repeat(100_000),
      });
      await sleep(1);
    }
    await waitFor(() => a.disconnects.includes('backpressure'), 'cut for bytes');
    socket.destroy();
    await a.stop();
  });

  it('coalesce: a slow client gets the newest event of each name, or one resync past the bound', async () => {
    const a = await app({ bufferSize: 3, backpressure: 'coalesce', maxPayloadBytes: 1 << 20 });
    const raw = await openRaw(`${a.url}/events`);
    await waitFor(() => raw.events.length === 1, 'connected');
    const { socket } = await stalledClient(a.url, '/events');
    await waitFor(() => a.sse.stats().connections === 2, 'both connected');
    const big = 'x'.repeat(200_000);
    for (let i = 0; i < 40; i++) {
      await a.sse.publisher.publishEvent('gym:1:a', {
        eventType: i % 2 ? 'odd.changed' : 'even.changed',
        data: `${i}:${big}`,
      });
    }
    await waitFor(() => a.drops.length > 10, 'events were coalesced');
    assert.ok(a.drops.every((d) => d === 'coalesce'));
    assert.equal(a.sse.stats().connections, 2, 'nobody was cut');
    let text = '';
    socket.on('data', (d) => {
      text += d.toString();
    });
    socket.resume();
    // Once it reads again, the newest of each name arrives last, and nothing of the resync kind.
    await waitFor(
      () => text.includes('"39:') && text.includes('"38:'),
      'the newest events',
      10_000,
    );
    assert.ok(!text.includes('eventrail.resync'), 'two names fit in the bound: no resync');
    // What arrived is in publish order; every event that did not arrive was merged into a newer
    // one of its name (same parity), and each merge was counted.
    const got = numberedLog(text).flatMap((e) => (e.kind === 'event' ? [e.seq] : []));
    assert.deepEqual(
      got,
      [...got].sort((x, y) => x - y),
      'in publish order',
    );
    assert.deepEqual(got.slice(-2), [38, 39], 'the newest of each name, last');
    const rawId = (JSON.parse(raw.events[0]?.data ?? '{}') as { connectionId?: string })
      .connectionId;
    const merged = a.droppedFor.filter((id) => id !== rawId).length;
    assert.equal(got.length + merged, 40, `written or merged: ${got}`);
    for (let n = 0; n < 40; n++)
      if (!got.includes(n))
        assert.ok(
          got.some((m) => m > n && m % 2 === n % 2),
          `${n} was merged into a newer event of its name: ${got}`,
        );
    raw.abort();
    socket.destroy();
    await a.stop();
  });

  it('coalesce: more names than the bound collapse into one resync', async () => {
    const a = await app({ bufferSize: 3, backpressure: 'coalesce', maxPayloadBytes: 1 << 20 });
    const { socket } = await stalledClient(a.url, '/events');
    await waitFor(() => a.sse.stats().connections === 1, 'connected');
    const big = 'x'.repeat(200_000);
    for (let i = 0; i < 40; i++) {
      await a.sse.publisher.publishEvent('gym:1:a', { eventType: `n${i}.changed`, data: big });
    }
    await waitFor(() => a.drops.length > 3, 'coalesced past the bound');
    let text = '';
    socket.on('data', (d) => {
      text += d.toString();
    });
    socket.resume();
    await waitFor(() => text.includes('event: eventrail.resync'), 'one resync', 10_000);
    await a.sse.publisher.publishEvent('gym:1:a', { eventType: 'after.changed', data: 'after' });
    await waitFor(() => text.includes('"after"'), 'live again after the resync');
    assert.equal(text.split('event: eventrail.resync').length, 2, 'exactly one resync');
    assert.ok(!text.includes('n39.changed'), 'the collapsed events are not sent after the resync');
    socket.destroy();
    await a.stop();
  });
});
