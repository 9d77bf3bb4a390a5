import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AggregatorRegistry, Registry } from 'prom-client';
import { createMemoryBroker } from '../src/brokers/memory.js';
import { combineHooks, createMetrics, type ObservableServer } from '../src/integrations/metrics.js';
import type { SseServerStats } from '../src/server.js';
import { queryResolver, queryRouter, startApp } from './helpers/apps.js';
import { startExample } from './helpers/examples.js';
import { openRaw, openSource, waitFor } from './helpers/sse.js';

const REASONS = [
  'client-closed',
  'backpressure',
  'server-closed',
  'expired',
  'revoked',
  'error',
  'broker',
  'maxConnections',
  'maxConnectionsPerPrincipal',
  'maxOpeningsPerSecond',
  'closing',
];

/** Parses exposition text into `name{labels}` -> value. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(match, `unparsable line: ${line}`);
    samples.set(match[1] as string, Number(match[2]));
  }
  return samples;
}

async function scrape(registry: Registry): Promise<Map<string, number>> {
  return parse(await registry.metrics());
}

function value(samples: Map<string, number>, key: string): number | undefined {
  return samples.get(key);
}

/** Every label of every sample is `le` or a disconnect or refusal `reason`, never a scope, channel or user. */
function assertBoundedLabels(text: string): void {
  for (const [, labels] of text.matchAll(/\{([^}]*)\}/g)) {
    for (const pair of (labels ?? '').split(',')) {
      const [name, quoted] = pair.split('=');
      if (name === 'le') continue;
      assert.equal(name, 'reason', `unexpected label ${pair}`);
      assert.ok(REASONS.includes(JSON.parse(quoted ?? '""')), `unexpected reason ${pair}`);
    }
  }
}

describe('eventrail/metrics', () => {
  it('exports connections, events, latency and disconnects of a real server', async () => {
    const registry = new Registry();
    const metrics = createMetrics({ registry });
    const app = await startApp('node:http', {
      broker: createMemoryBroker(),
      resolver: queryResolver,
      router: queryRouter,
      hooks: metrics.hooks,
    });
    metrics.observe(app.sse);
    const one = openSource(`${app.url}/events?scope=1&user=7`, ['x.y']);
    const two = openSource(`${app.url}/events?scope=1&user=8`, ['x.y']);
    const raw = await openRaw(`${app.url}/events?scope=2`);
    await Promise.all([one.opened, two.opened]);
    await waitFor(() => raw.events.length === 1, 'raw connected');
    let m = await scrape(registry);
    assert.equal(value(m, 'eventrail_connections'), 3);
    assert.equal(value(m, 'eventrail_hubs'), 2);
    assert.equal(value(m, 'eventrail_broker_up'), 1);
    assert.equal(value(m, 'eventrail_events_in_total'), 0);

    await app.sse.publisher.publishType('gym:1:students', 'x.y');
    await app.sse.publisher.publishType('gym:1:students', 'x.y');
    await app.sse.publisher.publishType('gym:2:rooms', 'x.y');
    await waitFor(
      () => one.named('x.y').length === 2 && two.named('x.y').length === 2,
      'scope 1 events',
    );
    await waitFor(() => raw.events.length === 2, 'scope 2 event');
    const text = await registry.metrics();
    m = parse(text);
    assert.equal(value(m, 'eventrail_events_in_total'), 3);
    assert.equal(value(m, 'eventrail_event_writes_total'), 5, 'two events to two, one to one');
    assert.equal(value(m, 'eventrail_publish_to_write_seconds_count'), 3);
    assert.equal(value(m, 'eventrail_publish_to_write_seconds_bucket{le="+Inf"}'), 3);
    assert.ok((value(m, 'eventrail_publish_to_write_seconds_sum') ?? -1) >= 0);
    assert.equal(value(m, 'eventrail_events_dropped_total'), 0);
    assert.equal(value(m, 'eventrail_resyncs_total'), 0);
    assert.doesNotMatch(text, /gym:|students|rooms|x\.y|user/);
    assertBoundedLabels(text);

    one.close();
    await waitFor(() => app.sse.stats().connections === 2, 'one gone');
    m = await scrape(registry);
    assert.equal(value(m, 'eventrail_connections'), 2);
    assert.equal(value(m, 'eventrail_disconnects_total{reason="client-closed"}'), 1);
    assert.equal(value(m, 'eventrail_disconnects_total{reason="backpressure"}'), 0);

    await app.stop();
    m = await scrape(registry);
    assert.equal(value(m, 'eventrail_connections'), 0);
    assert.equal(value(m, 'eventrail_disconnects_total{reason="server-closed"}'), 2);
    assert.equal(value(m, 'eventrail_events_in_total'), 3, 'a scrape does not count again');
    two.close();
    raw.abort();
  });

  it('adds up several servers and keeps the counts of one it stops observing', async () => {
    const registry = new Registry();
    const metrics = createMetrics({ registry, prefix: 'sse_' });
    const fake = (
      eventsIn: number,
      broker: 'ready' | 'connecting',
      silentShards: readonly string[] = [],
    ): ObservableServer => {
      const stats: SseServerStats = {
        connections: 2,
        hubs: 1,
        eventsIn,
        eventsOut: eventsIn * 2,
        replayed: 0,
        resyncs: 1,
        dropped: 0,
        disconnects: {
          'client-closed': 1,
          backpressure: 0,
          'server-closed': 0,
          expired: 0,
          revoked: 0,
          error: 0,
        },
        opening: 0,
        refused: {
          broker: 0,
          maxConnections: 0,
          maxConnectionsPerPrincipal: 0,
          maxOpeningsPerSecond: 0,
          closing: 0,
        },
        broker,
        silentShards,
        historyReads: { sent: 3, shared: 2, running: 0, queued: 0, peak: 1 },
      };
      return {
        stats: () => stats,
        health: () => ({ ok: broker === 'ready', broker, silentShards, closed: false }),
      };
    };
    let m = await scrape(registry);
    assert.equal(value(m, 'sse_connections'), 0);
    assert.equal(value(m, 'sse_broker_up'), 0, 'no server observed');
    metrics.observe(fake(5, 'ready'));
    const stop = metrics.observe(fake(7, 'connecting', ['10.0.0.2:6379']));
    m = await scrape(registry);
    assert.equal(value(m, 'sse_connections'), 4);
    assert.equal(value(m, 'sse_events_in_total'), 12);
    assert.equal(value(m, 'sse_event_writes_total'), 24);
    assert.equal(value(m, 'sse_resyncs_total'), 2);
    assert.equal(value(m, 'sse_disconnects_total{reason="client-closed"}'), 2);
    assert.equal(value(m, 'sse_broker_up'), 0, 'one broker is reconnecting');
    assert.equal(value(m, 'sse_broker_silent_shards'), 1);
    stop();
    stop();
    m = await scrape(registry);
    assert.equal(value(m, 'sse_connections'), 2);
    assert.equal(value(m, 'sse_broker_up'), 1);
    assert.equal(value(m, 'sse_broker_silent_shards'), 0);
    assert.equal(value(m, 'sse_events_in_total'), 12, 'counters never go down');
    assert.equal(value(m, 'sse_disconnects_total{reason="client-closed"}'), 2);
    assert.equal(value(m, 'eventrail_connections'), undefined);
    metrics.observe(fake(0, 'connecting', ['10.0.0.2:6379', '10.0.0.3:6379']));
    metrics.observe(fake(0, 'connecting', ['10.0.0.3:6379']));
    m = await scrape(registry);
    assert.equal(value(m, 'sse_broker_silent_shards'), 2, 'two shards, however many servers');
  });

  it("adds up a box's workers as each metric says: sums, broker up only when all are", async () => {
    // Two workers' registries, aggregated as the primary's AggregatorRegistry does (the real
    // scrape through a primary is test/workers.test.ts).
    const worker = (connections: number, broker: 'ready' | 'connecting', sent: number) => {
      const registry = new Registry();
      const stats = {
        connections,
        hubs: 1,
        eventsIn: 5,
        eventsOut: 5 * connections,
        replayed: 0,
        resyncs: 0,
        dropped: 0,
        disconnects: {},
        opening: 0,
        refused: {},
        broker,
        silentShards: [],
        historyReads: { sent, shared: 1, running: 0, queued: sent, peak: sent },
      } as unknown as SseServerStats;
      createMetrics({ registry }).observe({
        stats: () => stats,
        health: () => ({ ok: broker === 'ready', broker, silentShards: [], closed: false }),
      });
      return registry;
    };
    const workers = [worker(3, 'ready', 4), worker(2, 'connecting', 6)];
    const box = AggregatorRegistry.aggregate(
      await Promise.all(workers.map((r) => r.getMetricsAsJSON())),
    );
    const m = parse(await box.metrics());
    assert.equal(value(m, 'eventrail_connections'), 5);
    assert.equal(value(m, 'eventrail_hubs'), 2);
    assert.equal(value(m, 'eventrail_event_writes_total'), 25);
    assert.equal(value(m, 'eventrail_broker_up'), 0, 'one worker is reconnecting');
    assert.equal(value(m, 'eventrail_history_reads_total'), 10);
    assert.equal(value(m, 'eventrail_history_reads_shared_total'), 2);
    assert.equal(value(m, 'eventrail_history_reads_queued'), 10);
    assert.equal(value(m, 'eventrail_history_reads_peak'), 6, 'the highest of one process');
  });

  it('clamps clock skew to 0 and skips events without a timestamp or recipient', async () => {
    const registry = new Registry();
    const { hooks } = createMetrics({ registry });
    const event = { name: 'x.y', data: '{}' };
    hooks.onEventBroadcast?.(event, 'gym:1:a', 3, Date.now() + 60_000);
    hooks.onEventBroadcast?.(event, 'gym:1:a', 3, undefined);
    hooks.onEventBroadcast?.(event, 'gym:1:a', 0, Date.now() - 1000);
    hooks.onEventBroadcast?.(event, 'gym:1:a', 1, Date.now() - 2000);
    const m = await scrape(registry);
    assert.equal(value(m, 'eventrail_publish_to_write_seconds_count'), 2);
    assert.equal(value(m, 'eventrail_publish_to_write_seconds_bucket{le="0.001"}'), 1);
    assert.equal(value(m, 'eventrail_publish_to_write_seconds_bucket{le="1"}'), 1);
    assert.equal(value(m, 'eventrail_publish_to_write_seconds_bucket{le="2.5"}'), 2);
    const sum = value(m, 'eventrail_publish_to_write_seconds_sum') ?? -1;
    assert.ok(sum >= 2 && sum < 2.5, `skew counts as 0, not -60 s: sum ${sum}`);
    assert.throws(() => createMetrics({ registry }), /already been registered/);
  });

  it('combineHooks calls every hook, then rethrows the first error', () => {
    const calls: string[] = [];
    const hooks = combineHooks(
      { onHubStarted: (key) => calls.push(`a:${key}`) },
      undefined,
      {
        onHubStarted: () => {
          throw new Error('boom');
        },
        onHubStopped: (key) => calls.push(`b:${key}`),
      },
      { onHubStarted: (key) => calls.push(`c:${key}`) },
    );
    assert.throws(() => hooks.onHubStarted?.('gym:1'), /boom/);
    hooks.onHubStopped?.('gym:2');
    assert.deepEqual(calls, ['a:gym:1', 'c:gym:1', 'b:gym:2']);
    assert.equal(hooks.onError, undefined);
  });

  it('the basic example serves /metrics', async () => {
    const app = await startExample('examples/basic/server.ts');
    try {
      const source = openSource(`${app.url}/events?scope=1`, ['app.demo.ping']);
      await source.opened;
      const published = await fetch(`${app.url}/publish?scope=1`);
      assert.equal(published.status, 202);
      await published.text();
      await waitFor(() => source.named('app.demo.ping').length === 1, 'the event');
      const response = await fetch(`${app.url}/metrics`);
      const text = await response.text();
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
      const m = parse(text);
      assert.equal(value(m, 'eventrail_connections'), 1);
      assert.equal(value(m, 'eventrail_events_in_total'), 1);
      assert.equal(value(m, 'eventrail_publish_to_write_seconds_count'), 1);
      assert.doesNotMatch(text, /scope:/);
      source.close();
    } finally {
      await app.stop();
    }
  });
});
