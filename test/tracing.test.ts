/**
 * OpenTelemetry (`eventrail/opentelemetry`): the trace context of a publish reaches every
 * instance that delivers the event, through a real Redis, with the real OpenTelemetry SDK
 * exporting to memory. Browsers never see it; a broken tracer never costs an event.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  NodeTracerProvider,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { createMemoryBroker } from '../src/brokers/memory.js';
import { createRedisBroker } from '../src/brokers/redis.js';
import { createPublisher, createSseServer, type EventTracing } from '../src/index.js';
import { openTelemetry } from '../src/integrations/opentelemetry.js';
import type { Broker } from '../src/types.js';
import {
  queryResolver,
  queryRouter,
  type RunningApp,
  startApp,
  type TestPrincipal,
} from './helpers/apps.js';
import { type RedisProcess, redisCli, redisSkipReason, startRedis } from './helpers/redis.js';
import { openRaw, openSource, waitFor } from './helpers/sse.js';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register(); // global tracer provider, AsyncLocalStorage context, W3C propagators
const tracer = trace.getTracer('test');
after(() => provider.shutdown());

const NAMES = ['app.students.changed', 'app.go.event'];

function spans(name: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.name === name);
}

/** Runs `fn` in a fresh span that stands for the HTTP request that changed something. */
async function inRequestSpan(fn: () => Promise<void>): Promise<ReadableSpan> {
  let id = '';
  await tracer.startActiveSpan('POST /students', async (span) => {
    id = span.spanContext().spanId;
    try {
      await fn();
    } finally {
      span.end();
    }
  });
  const found = exporter.getFinishedSpans().find((s) => s.spanContext().spanId === id);
  assert.ok(found);
  return found;
}

function isChildOf(span: ReadableSpan | undefined, parent: ReadableSpan): boolean {
  return (
    span?.spanContext().traceId === parent.spanContext().traceId &&
    span.parentSpanContext?.spanId === parent.spanContext().spanId
  );
}

describe('OpenTelemetry across two instances on Redis', { skip: redisSkipReason() }, () => {
  let redis: RedisProcess;
  const brokers: Broker[] = [];
  const apps: RunningApp[] = [];
  /** The span that was active in each `onEventBroadcast` hook call. */
  const activeInHook: string[] = [];

  before(async () => {
    redis = await startRedis();
    for (const framework of ['node:http', 'fetch'] as const) {
      const broker = createRedisBroker({ url: redis.url, publishTimeoutMs: 500 });
      brokers.push(broker);
      apps.push(
        await startApp<TestPrincipal>(framework, {
          broker,
          resolver: queryResolver,
          router: queryRouter,
          eventNamePrefix: 'app',
          tracing: openTelemetry(),
          hooks: {
            onEventBroadcast: () => {
              activeInHook.push(trace.getActiveSpan()?.spanContext().spanId ?? 'none');
            },
          },
        }),
      );
    }
  });
  after(async () => {
    for (const app of apps) await app.stop();
    for (const broker of brokers) await broker.close();
    await redis?.stop();
  });
  beforeEach(() => {
    exporter.reset();
    activeInHook.length = 0;
  });

  it('a publish span under the request, a deliver span under it on every instance', async () => {
    const clients = apps.map((app) => openSource(`${app.url}/events?scope=1`, NAMES));
    const other = openSource(`${apps[1]?.url}/events?scope=2`, NAMES);
    await Promise.all([...clients, other].map((c) => c.opened));
    const [first] = apps;
    assert.ok(first);

    const request = await inRequestSpan(() =>
      first.sse.publisher.publishEvent('gym:1:students', {
        eventType: 'students.changed',
        data: { id: 123 },
      }),
    );
    await waitFor(() => clients.every((c) => c.events.length === 1), 'the event on both');
    await waitFor(() => spans('deliver gym').length === 2, 'a deliver span per instance');

    const [publish] = spans('publish gym');
    assert.ok(publish);
    assert.ok(isChildOf(publish, request), 'the publish span is a child of the request span');
    assert.equal(publish.kind, SpanKind.PRODUCER);
    assert.equal(publish.status.code, SpanStatusCode.UNSET);
    assert.deepEqual(
      {
        system: publish.attributes['messaging.system'],
        destination: publish.attributes['messaging.destination.name'],
        template: publish.attributes['messaging.destination.template'],
        type: publish.attributes['eventrail.event_type'],
      },
      {
        system: 'eventrail',
        destination: 'gym:1:students',
        template: 'gym:{id}:students',
        type: 'students.changed',
      },
    );
    for (const deliver of spans('deliver gym')) {
      assert.ok(isChildOf(deliver, publish), 'each deliver span is a child of the publish span');
      assert.equal(deliver.kind, SpanKind.CONSUMER);
      assert.equal(deliver.attributes['eventrail.recipients'], 1); // scope 2 is not counted
      assert.equal(deliver.attributes['eventrail.event_name'], 'app.students.changed');
      assert.match(String(deliver.attributes['messaging.message.id']), /^\d+-\d+$/);
    }
    // Hooks run inside the deliver span, so what they log is correlated.
    const deliverIds = spans('deliver gym').map((s) => s.spanContext().spanId);
    assert.deepEqual(activeInHook.sort(), deliverIds.sort());
    // Browsers get the data alone; the trace context stays on the server side.
    for (const c of clients) assert.equal(c.events[0]?.data, '{"id":123}');
    assert.equal(other.events.length, 0);
    for (const c of [...clients, other]) c.close();
  });

  it('the context rides in the stored event (Go readers ignore the extra field) and never reaches the wire', async () => {
    const [first, second] = apps;
    assert.ok(first && second);
    const raw = await openRaw(`${second.url}/events?scope=3`);
    await waitFor(() => raw.events.length >= 1, 'the connected event');
    await inRequestSpan(() =>
      first.sse.publisher.publishEvent('gym:3:students', { eventType: 'students.changed' }),
    );
    await waitFor(() => raw.events.some((e) => e.event === 'app.students.changed'), 'the event');
    const [publish] = spans('publish gym');
    assert.ok(publish);
    const stored = await redisCli(redis.port, 'XRANGE', 'eventrail:history:{gym:3}', '-', '+');
    const { traceId, spanId } = publish.spanContext();
    assert.match(
      stored,
      new RegExp(`"trace_context":\\{"traceparent":"00-${traceId}-${spanId}-01"`),
    );
    assert.match(stored, /"event_type":"students.changed","data":\{\}/);
    assert.doesNotMatch(raw.text, /traceparent|trace_context/);
    raw.abort();
  });

  it('an event without a context (another program) gets a root span, not the context it arrived in', async () => {
    // A broker created while a span is active (lazily, in a request) runs its socket callbacks in
    // that span's context: a delivery must not become that span's child.
    const setup = tracer.startSpan('lazy setup');
    const broker = context.with(trace.setSpan(ROOT_CONTEXT, setup), () =>
      createRedisBroker({ url: redis.url }),
    );
    const app = await context.with(trace.setSpan(ROOT_CONTEXT, setup), () =>
      startApp<TestPrincipal>('node:http', {
        broker,
        resolver: queryResolver,
        router: queryRouter,
        eventNamePrefix: 'app',
        tracing: openTelemetry(),
      }),
    );
    setup.end();
    try {
      const client = openSource(`${app.url}/events?scope=4`, NAMES);
      await client.opened;
      await redisCli(redis.port, 'PUBLISH', 'gym:4:x', '{"event_type":"go.event","data":{"a":1}}');
      await waitFor(() => client.events.length === 1, 'the Go-shaped event');
      await waitFor(() => spans('deliver gym').length === 1, 'its deliver span');
      const [deliver] = spans('deliver gym');
      assert.equal(deliver?.parentSpanContext, undefined, 'a root span');
      client.close();
    } finally {
      await app.stop();
      await broker.close();
    }
  });

  it('a publisher without tracing adds nothing to the payload', async () => {
    const [first] = apps;
    assert.ok(first);
    const plain = createPublisher({ broker: brokers[0] as Broker });
    await inRequestSpan(() => plain.publishEvent('gym:5:students', { eventType: 'a.b' }));
    const stored = await redisCli(redis.port, 'XRANGE', 'eventrail:history:{gym:5}', '-', '+');
    assert.match(stored, /\{"event_type":"a.b","data":\{\}\}/);
    assert.doesNotMatch(stored, /trace_context/);
    assert.equal(spans('publish gym').length, 0);
  });

  // Last: it stops Redis.
  it('a publish the broker refuses ends its span with an error and still rejects', async () => {
    const [first] = apps;
    assert.ok(first);
    await redis.stop();
    await assert.rejects(
      first.sse.publisher.publishEvent('gym:1:students', { eventType: 'students.changed' }),
      { name: 'EventrailError', code: 'broker-error' },
    );
    const [publish] = spans('publish gym');
    assert.equal(publish?.status.code, SpanStatusCode.ERROR);
    assert.equal(publish?.events[0]?.name, 'exception');
  });
});

describe('OpenTelemetry on the memory broker', () => {
  /** A node:http server that runs each request in a span, as HTTP auto-instrumentation does. */
  async function instrumentedServer(
    tracing: EventTracing,
    onError?: (error: Error) => void,
  ): Promise<{ url: string; sse: ReturnType<typeof createSseServer>; stop(): Promise<void> }> {
    const sse = createSseServer<TestPrincipal>({
      broker: createMemoryBroker(),
      resolver: queryResolver,
      router: queryRouter,
      eventNamePrefix: 'app',
      tracing,
      hooks: onError ? { onError } : {},
    });
    const http = createServer((req, res) => {
      const span = tracer.startSpan(`GET ${req.url}`);
      res.on('close', () => span.end());
      context.with(trace.setSpan(ROOT_CONTEXT, span), () => void sse.handler(req, res));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
      sse,
      async stop() {
        await sse.close();
        http.closeAllConnections();
        await new Promise((resolve) => http.close(resolve));
      },
    };
  }

  beforeEach(() => exporter.reset());

  it('`link` mode: each delivery starts its own trace, linked to the publish', async () => {
    const app = await instrumentedServer(openTelemetry({ deliverSpans: 'link' }));
    const client = openSource(`${app.url}/events?scope=1`, NAMES);
    await client.opened;
    await inRequestSpan(() =>
      app.sse.publisher.publishEvent('gym:1:students', { eventType: 'students.changed' }),
    );
    await waitFor(() => client.events.length === 1, 'the event');
    const [publish] = spans('publish gym');
    const [deliver] = spans('deliver gym');
    assert.ok(publish && deliver);
    assert.equal(deliver.parentSpanContext, undefined);
    assert.notEqual(deliver.spanContext().traceId, publish.spanContext().traceId);
    assert.equal(deliver.links[0]?.context.spanId, publish.spanContext().spanId);
    client.close();
    await app.stop();
  });

  it('published outside any span: the publish span is a root, the delivery its child', async () => {
    const app = await instrumentedServer(openTelemetry());
    const client = openSource(`${app.url}/events?scope=1`, NAMES);
    await client.opened;
    // Published outside any span: the publish span is a root, the deliver span its child.
    await app.sse.publisher.publishEvent('gym:1:students', { eventType: 'students.changed' });
    await waitFor(() => client.events.length === 1, 'the event');
    const [publish] = spans('publish gym');
    const [deliver] = spans('deliver gym');
    assert.ok(publish && deliver);
    assert.equal(publish.parentSpanContext, undefined);
    assert.ok(isChildOf(deliver, publish));
    client.close();
    await app.stop();
  });

  it('a tracer that throws costs no event and no publish', async () => {
    const errors: Error[] = [];
    const broken: EventTracing = {
      publish() {
        throw new Error('tracer down');
      },
      deliver() {
        throw new Error('tracer down');
      },
    };
    const app = await instrumentedServer(broken, (e) => errors.push(e));
    const client = openSource(`${app.url}/events?scope=1`, NAMES);
    await client.opened;
    await app.sse.publisher.publishEvent('gym:1:students', { eventType: 'students.changed' });
    await waitFor(() => client.events.length === 1, 'the event, despite the tracer');
    assert.ok(
      errors.some((e) => e.message === 'tracer down'),
      'the failure is reported',
    );
    client.close();
    await app.stop();
    // A tracer that never calls back costs nothing either: the publish is sent and delivered.
    const silent: EventTracing = { publish: async () => {}, deliver: () => {} };
    const quiet = await instrumentedServer(silent, (e) => errors.push(e));
    const other = openSource(`${quiet.url}/events?scope=1`, NAMES);
    await other.opened;
    await quiet.sse.publisher.publishEvent('gym:1:students', { eventType: 'students.changed' });
    await waitFor(() => other.events.length === 1, 'the event, despite a silent tracer');
    other.close();
    await quiet.stop();
  });

  it('a tracing option that is not a tracer is refused up front', () => {
    assert.throws(
      () =>
        createPublisher({
          broker: createMemoryBroker(),
          tracing: {} as unknown as EventTracing,
        }),
      { name: 'EventrailError', code: 'invalid-option' },
    );
  });
});
