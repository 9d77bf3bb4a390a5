import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryBroker } from '../src/brokers/memory.js';
import { createSseServer, EventrailError } from '../src/index.js';
import type { Broker, BrokerMessage } from '../src/types.js';
import {
  FRAMEWORKS,
  queryResolver,
  queryRouter,
  type RunningApp,
  startApp,
} from './helpers/apps.js';
import { openRaw, openSource, type RawStream, sleep, waitFor } from './helpers/sse.js';

for (const framework of FRAMEWORKS) {
  describe(`SSE server on ${framework}`, () => {
    let broker: Broker;
    let app: RunningApp;
    const errors: Error[] = [];

    before(async () => {
      broker = createMemoryBroker();
      app = await startApp(framework, {
        broker,
        resolver: queryResolver,
        router: queryRouter,
        eventNamePrefix: 'app',
        headers: { 'X-Custom': 'yes' },
        hooks: { onError: (e) => errors.push(e) },
      });
    });
    after(async () => {
      await app.stop();
      await broker.close();
    });

    it('answers with SSE headers, retry first, then the connection id', async () => {
      const raw = await openRaw(`${app.url}/events?scope=1`);
      assert.equal(raw.status, 200);
      assert.equal(raw.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      assert.equal(raw.headers.get('cache-control'), 'no-cache, no-transform');
      assert.equal(raw.headers.get('x-accel-buffering'), 'no');
      assert.equal(raw.headers.get('x-custom'), 'yes');
      await waitFor(() => raw.events.length === 1, 'the connected event');
      assert.ok(raw.text.startsWith('retry: 3000\n\n'), JSON.stringify(raw.text));
      assert.equal(raw.retry, 3000);
      assert.equal(raw.events[0]?.event, 'eventrail.connected');
      assert.match(JSON.parse(raw.events[0]?.data ?? '{}').connectionId, /^[A-Za-z0-9_-]{16}$/);
      raw.abort();
    });

    it('delivers a published event to a real EventSource client', async () => {
      const client = openSource(`${app.url}/events?scope=1`, ['app.students.changed']);
      await client.opened;
      await app.sse.publisher.publishEvent('gym:1:students', {
        eventType: 'students.changed',
        data: { id: 123 },
      });
      await app.sse.publisher.publishType('gym:1:students', 'app.students.changed');
      await waitFor(() => client.events.length === 2, 'two events');
      assert.deepEqual(
        client.events.map((e) => [e.name, e.data]),
        [
          ['app.students.changed', '{"id":123}'],
          ['app.students.changed', '{}'],
        ],
      );
      client.close();
    });

    it('refuses a resolver error with 401 and leaks nothing', async () => {
      errors.length = 0;
      const response = await fetch(`${app.url}/events?deny=1`);
      assert.equal(response.status, 401);
      const body = await response.text();
      assert.ok(!body.includes('secret'), body);
      assert.equal(errors.length, 1);
      assert.ok(errors[0] instanceof EventrailError && errors[0].code === 'unauthorized');
      const client = openSource(`${app.url}/events?deny=1`);
      await assert.rejects(client.opened);
      assert.equal(client.errors[0]?.code, 401);
      client.close();
    });

    it('answers 405 to other methods', async () => {
      const response = await fetch(`${app.url}/events`, { method: 'POST' });
      assert.equal(response.status, 405);
      assert.equal(response.headers.get('allow'), 'GET');
    });
  });
}

describe('routing and delivery', () => {
  let broker: Broker;
  let app: RunningApp;
  const errors: Error[] = [];
  const seenByBroker: BrokerMessage[] = [];

  before(async () => {
    broker = createMemoryBroker();
    await broker.subscribe('*', (m) => seenByBroker.push(m));
    app = await startApp('node:http', {
      broker,
      resolver: queryResolver,
      router: queryRouter,
      eventNamePrefix: 'app',
      hooks: { onError: (e) => errors.push(e) },
    });
  });
  after(async () => {
    await app.stop();
    await broker.close();
  });

  const names = ['app.students.changed', 'app.plans.changed', 'app.x.y'];

  it('routes per principal: two principals of one scope get what their own routes allow', async () => {
    const a = openSource(`${app.url}/events?user=a&scope=1&route=gym:1:students`, names);
    const b = openSource(`${app.url}/events?user=b&scope=1&route=gym:1:plans`, names);
    await Promise.all([a.opened, b.opened]);
    await app.sse.publisher.publishType('gym:1:students', 'students.changed');
    await app.sse.publisher.publishType('gym:1:plans', 'plans.changed');
    await waitFor(() => a.events.length >= 1 && b.events.length >= 1, 'one event each');
    await sleep(100);
    assert.deepEqual(
      a.events.map((e) => e.name),
      ['app.students.changed'],
    );
    assert.deepEqual(
      b.events.map((e) => e.name),
      ['app.plans.changed'],
    );
    a.close();
    b.close();
  });

  it('never delivers one event twice through overlapping routes', async () => {
    const c = openSource(
      `${app.url}/events?route=gym:1:*&route=gym:1:students&route=gym:1:students`,
      names,
    );
    await c.opened;
    for (let i = 0; i < 20; i++)
      await app.sse.publisher.publishEvent('gym:1:students', {
        eventType: 'students.changed',
        data: i,
      });
    await waitFor(() => c.events.length >= 20, '20 events');
    await sleep(100);
    assert.deepEqual(
      c.events.map((e) => Number(e.data)),
      [...Array(20).keys()],
    );
    c.close();
  });

  it('keeps scopes apart', async () => {
    const one = openSource(`${app.url}/events?scope=1`, names);
    const two = openSource(`${app.url}/events?scope=2`, names);
    const ten = openSource(`${app.url}/events?scope=10`, names);
    await Promise.all([one.opened, two.opened, ten.opened]);
    await app.sse.publisher.publishType('gym:1:students', 'students.changed');
    await app.sse.publisher.publishType('gym:2:students', 'students.changed');
    await waitFor(() => one.events.length === 1 && two.events.length === 1, 'one event each');
    await sleep(100);
    assert.equal(one.events.length, 1);
    assert.equal(two.events.length, 1);
    assert.equal(ten.events.length, 0);
    for (const c of [one, two, ten]) c.close();
  });

  it('skips the connection an event originated from', async () => {
    const a = openSource(`${app.url}/events?scope=1`, names);
    const b = openSource(`${app.url}/events?scope=1`, names);
    await Promise.all([a.opened, b.opened]);
    await waitFor(() => a.connectionId() !== undefined, 'connection id');
    await app.sse.publisher.publishEvent('gym:1:students', {
      eventType: 'students.changed',
      origin: a.connectionId(),
    });
    await app.sse.publisher.publishType('gym:1:plans', 'plans.changed');
    await waitFor(() => b.events.length === 2 && a.events.length === 1, 'delivery');
    assert.deepEqual(
      a.events.map((e) => e.name),
      ['app.plans.changed'],
    );
    a.close();
    b.close();
  });

  it('delivers foreign payloads as message and a raw JSON without event_type unchanged', async () => {
    const c = openSource(`${app.url}/events?scope=1`, names);
    await c.opened;
    await broker.publish('gym:1:raw', 'plain text\nline two');
    await broker.publish('gym:1:raw', '{"data":{"id":1}}');
    await waitFor(() => c.events.length === 2, 'two raw events');
    assert.deepEqual(c.events, [
      { name: 'message', data: 'plain text\nline two', id: undefined },
      { name: 'message', data: '{"data":{"id":1}}', id: undefined },
    ]);
    c.close();
  });

  it('refuses bad publishes before they reach the broker', async () => {
    const c = openSource(`${app.url}/events?scope=1`, names);
    await c.opened;
    seenByBroker.length = 0;
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const attempts: Array<[string, () => Promise<void>, string]> = [
      ['global channel', () => app.sse.publisher.publishType('students', 'x.y'), 'invalid-channel'],
      [
        'glob channel',
        () => app.sse.publisher.publishType('gym:*:students', 'x.y'),
        'invalid-channel',
      ],
      [
        'glob scope id',
        () => app.sse.publisher.publishType('gym:1*:students', 'x.y'),
        'invalid-channel',
      ],
      ['spaces', () => app.sse.publisher.publishType('gym:1:stu dents', 'x.y'), 'invalid-channel'],
      [
        'newline type',
        () => app.sse.publisher.publishType('gym:1:students', 'x\ny'),
        'invalid-event-type',
      ],
      [
        'CR type',
        () => app.sse.publisher.publishType('gym:1:students', 'x\ry'),
        'invalid-event-type',
      ],
      [
        'NUL type',
        () => app.sse.publisher.publishType('gym:1:students', 'x\0y'),
        'invalid-event-type',
      ],
      [
        'empty type',
        () => app.sse.publisher.publishType('gym:1:students', ''),
        'invalid-event-type',
      ],
      [
        'circular data',
        () =>
          app.sse.publisher.publishEvent('gym:1:students', { eventType: 'x.y', data: circular }),
        'invalid-data',
      ],
      [
        'bigint data',
        () => app.sse.publisher.publishEvent('gym:1:students', { eventType: 'x.y', data: 1n }),
        'invalid-data',
      ],
    ];
    for (const [what, attempt, code] of attempts) {
      await assert.rejects(attempt(), (e) => e instanceof EventrailError && e.code === code, what);
    }
    await app.sse.publisher.publishType('gym:1:students', 'x.y');
    await waitFor(() => c.events.length === 1, 'the one valid event');
    assert.equal(seenByBroker.length, 1, 'only the valid publish reached the broker');
    assert.equal(c.events[0]?.name, 'app.x.y');
    c.close();
  });

  it('answers 500 for a router returning an invalid pattern, 204 for no routes', async () => {
    errors.length = 0;
    const bad = await fetch(`${app.url}/events?route=gym:1*`);
    assert.equal(bad.status, 500);
    assert.ok(errors.some((e) => e instanceof EventrailError && e.code === 'invalid-pattern'));
    const global = await fetch(`${app.url}/events?route=*`);
    assert.equal(global.status, 500);
    // A principal with nothing to receive is told to stop: no stream, no subscription.
    const none = await startApp('node:http', {
      broker: createMemoryBroker(),
      resolver: queryResolver,
      router: () => [],
    });
    const empty = await fetch(`${none.url}/events`);
    assert.equal(empty.status, 204);
    assert.equal(await empty.text(), '');
    assert.deepEqual([none.sse.stats().connections, none.sse.stats().hubs], [0, 0]);
    await none.stop();
  });
});

describe('server lifecycle and options', () => {
  it('throws invalid-option with a hint for bad options', () => {
    const broker = createMemoryBroker();
    const base = { broker, resolver: queryResolver, router: queryRouter };
    const bad: Array<Record<string, unknown>> = [
      { ...base, broker: undefined },
      { ...base, resolver: 'x' },
      { ...base, router: undefined },
      { ...base, backpressure: 'block' },
      { ...base, bufferSize: 0 },
      { ...base, heartbeatMs: -1 },
      { ...base, retryMs: 1.5 },
      { ...base, eventNamePrefix: 'a\nb' },
      { ...base, eventNamePrefix: 'app.' },
      { ...base, headers: { 'Content-Type': 'text/html' } },
      { ...base, headers: { 'X-A': 'a\r\nb' } },
      { ...base, headers: { Connection: 'close' } },
      { ...base, headers: 5 },
      { ...base, hooks: 5 },
      { ...base, hooks: { onError: 'log' } },
      { ...base, logger: 5 },
      { ...base, logger: { error() {} } },
      { ...base, openTimeoutMs: 0 },
      { ...base, outageReminderMs: -1 },
    ];
    for (const options of bad) {
      assert.throws(
        () => createSseServer(options as never),
        (e) =>
          e instanceof EventrailError &&
          (e.code === 'invalid-option' || e.code === 'invalid-event-type'),
        JSON.stringify(options),
      );
    }
  });

  it('close() ends open streams, fires hooks, is safe twice; later requests get only retry', async () => {
    const broker = createMemoryBroker();
    const log: string[] = [];
    const app = await startApp('node:http', {
      broker,
      resolver: queryResolver,
      router: queryRouter,
      hooks: {
        onClientConnect: () => log.push('connect'),
        onClientDisconnect: (_c, reason) => log.push(`disconnect:${reason}`),
        onHubStarted: (key) => log.push(`start:${key}`),
        onHubStopped: (key) => log.push(`stop:${key}`),
      },
    });
    const a = await openRaw(`${app.url}/events?scope=1`);
    const b = await openRaw(`${app.url}/events?scope=2`);
    await waitFor(() => app.sse.stats().connections === 2, 'two connections');
    await Promise.all([app.sse.close(), app.sse.close()]);
    await Promise.all([a.ended, b.ended]);
    assert.equal(app.sse.closed, true);
    const stats = app.sse.stats();
    assert.equal(stats.connections, 0);
    assert.equal(stats.hubs, 0);
    assert.equal(stats.disconnects['server-closed'], 2);
    assert.deepEqual(
      log.filter((l) => l.startsWith('disconnect')),
      ['disconnect:server-closed', 'disconnect:server-closed'],
    );
    assert.deepEqual(log.filter((l) => l.startsWith('stop')).sort(), ['stop:gym:1', 'stop:gym:2']);
    const late = await openRaw(`${app.url}/events?scope=1`);
    await late.ended;
    assert.equal(late.status, 200);
    assert.equal(late.text, 'retry: 3000\n\n');
    await app.stop();
  });

  it('shuts down when its abort signal fires', async () => {
    const controller = new AbortController();
    const app = await startApp('fetch', {
      broker: createMemoryBroker(),
      resolver: queryResolver,
      router: queryRouter,
      signal: controller.signal,
    });
    const raw = await openRaw(`${app.url}/events`);
    await waitFor(() => app.sse.stats().connections === 1, 'connection');
    controller.abort();
    await raw.ended;
    await waitFor(() => app.sse.stats().hubs === 0, 'hubs released');
    assert.equal(app.sse.closed, true);
    await app.stop();
  });

  it('keeps a scope subscribed for the idle timeout, then drops it', async () => {
    const log: string[] = [];
    const app = await startApp('node:http', {
      broker: createMemoryBroker(),
      resolver: queryResolver,
      router: queryRouter,
      hubIdleTimeoutMs: 300,
      hooks: {
        onHubStarted: (k) => log.push(`start:${k}`),
        onHubStopped: (k) => log.push(`stop:${k}`),
      },
    });
    const first = await openRaw(`${app.url}/events`);
    await waitFor(() => app.sse.stats().connections === 1, 'first connection');
    first.abort();
    await waitFor(() => app.sse.stats().connections === 0, 'disconnect');
    const second = await openRaw(`${app.url}/events`);
    await waitFor(() => app.sse.stats().connections === 1, 'second connection');
    assert.deepEqual(
      log,
      ['start:gym:1'],
      'reconnecting within the idle timeout reuses the subscription',
    );
    second.abort();
    await waitFor(() => log.length === 2, 'hub stopped after idle timeout', 2000);
    assert.deepEqual(log, ['start:gym:1', 'stop:gym:1']);
    assert.equal(app.sse.stats().hubs, 0);
    await app.stop();
  });

  const heartbeatApp = (heartbeatMs: number) =>
    startApp('node:http', {
      broker: createMemoryBroker(),
      resolver: queryResolver,
      router: queryRouter,
      heartbeatMs,
    });

  it('writes heartbeats on an idle stream', async () => {
    const app = await heartbeatApp(50);
    const raw = await openRaw(`${app.url}/events`);
    await waitFor(() => raw.text.split(': ping\n\n').length > 3, 'three heartbeats');
    raw.abort();
    await app.stop();
  });

  it('spreads heartbeats over the period, each idle stream pinged every heartbeatMs', async () => {
    // 3 s: thirty slots of 100 ms; a stream is pinged in the slot it opened in, every period.
    const heartbeatMs = 3000;
    const app = await heartbeatApp(heartbeatMs);
    const streams: RawStream[] = [];
    const opened: number[] = [];
    try {
      for (let i = 0; i < 10; i++) {
        opened.push(Date.now());
        streams.push(await openRaw(`${app.url}/events?user=${i}`));
        await sleep(120);
      }
      // Until every stream has two pings, however long a busy machine takes. Only lower bounds on
      // the wall clock (timers are never early); that a ping comes exactly when the silence
      // reaches the period is proven tick by tick in heartbeat.test.ts.
      const pings = streams.map(() => [] as number[]);
      await waitFor(
        () => {
          streams.forEach((raw, i) => {
            const seen = raw.text.split(': ping').length - 1;
            while ((pings[i] as number[]).length < seen) (pings[i] as number[]).push(Date.now());
          });
          return pings.every((times) => times.length >= 2);
        },
        'two heartbeats on every stream',
        30_000,
      );
      for (const [i, times] of pings.entries()) {
        const first = (times[0] as number) - (opened[i] as number);
        assert.ok(
          first >= heartbeatMs - 150,
          `stream ${i}: first ping ${first} ms after it opened`,
        );
        const gap = (times[1] as number) - (times[0] as number);
        assert.ok(gap >= heartbeatMs - 150, `stream ${i}: ${gap} ms between pings`);
      }
      // Streams opened 120 ms apart fall in different slots: their pings come spread out.
      const firsts = pings.map((t) => t[0] as number).sort((a, b) => a - b);
      const spread = (firsts.at(-1) as number) - (firsts[0] as number);
      assert.ok(spread >= 900, `every stream got its first ping within ${spread} ms (one burst)`);
    } finally {
      for (const raw of streams) raw.abort();
      await app.stop();
    }
  });

  it('pings a stream only once it has been silent for heartbeatMs', async () => {
    const heartbeatMs = 1000;
    const app = await heartbeatApp(heartbeatMs);
    try {
      const busy = await openRaw(`${app.url}/events`);
      const idle = await openRaw(`${app.url}/events?scope=2`);
      // An event every 300 ms on scope 1 until the idle stream has been pinged twice (two periods
      // of the wheel's ticks, however slow the machine): the busy stream is never silent for one.
      const pings = (raw: RawStream) => raw.text.split(': ping').length - 1;
      let last = 0;
      let sent = 0;
      const deadline = Date.now() + 30_000;
      while (pings(idle) < 2 && Date.now() < deadline) {
        await app.sse.publisher.publishType('gym:1:students', 'students.changed');
        sent++;
        last = Date.now();
        await sleep(300);
      }
      await waitFor(() => busy.events.length >= sent + 1, 'every event delivered');
      assert.ok(pings(idle) >= 2, 'the idle stream was pinged meanwhile');
      assert.equal(pings(busy), 0, 'no heartbeat while events flow');
      await waitFor(() => busy.text.includes(': ping'), 'a heartbeat once silent', 10_000);
      const silence = Date.now() - last;
      assert.ok(silence >= heartbeatMs - 100, `pinged ${silence} ms after its last event`);
      busy.abort();
      idle.abort();
    } finally {
      await app.stop();
    }
  });

  it('uses a custom encoder and survives throwing hooks', async () => {
    const errors: Error[] = [];
    const broker = createMemoryBroker();
    const app = await startApp('node:http', {
      broker,
      resolver: queryResolver,
      router: queryRouter,
      encoder: (message) =>
        message.payload === 'skip'
          ? null
          : {
              name: `custom.${message.channel.split(':')[2]}`,
              data: message.payload.toUpperCase(),
            },
      hooks: {
        onEventBroadcast: () => {
          throw new Error('hook bug');
        },
        onError: (e) => errors.push(e),
      },
    });
    const c = openSource(`${app.url}/events`, ['custom.t']);
    await c.opened;
    await broker.publish('gym:1:t', 'skip');
    await broker.publish('gym:1:t', 'hello');
    await waitFor(() => c.events.length === 1, 'one custom event');
    assert.deepEqual(c.events[0], { name: 'custom.t', data: 'HELLO', id: undefined });
    assert.ok(errors.some((e) => e instanceof EventrailError && e.code === 'hook-failed'));
    c.close();
    await app.stop();
  });
});
