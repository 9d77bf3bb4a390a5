/**
 * The render position (`SseServer.lastEventId`): a page rendered at a position opens its stream
 * from there. A plain EventSource (the `eventsource` package follows the browser's rules) opens
 * `/events?lastEventId=<render position>`: events published after the render arrive once, in
 * order, then live ones; events before it never; nothing changed means nothing but the hello; a
 * position the history no longer holds means one resync. On the memory broker, one Redis in both
 * channel modes, and a Redis Cluster.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createMemoryBroker } from '../src/brokers/memory.js';
import { createRedisBroker, type RedisBrokerOptions } from '../src/brokers/redis.js';
import { isEventrailError } from '../src/index.js';
import type { Broker, Principal } from '../src/types.js';
import { queryResolver, queryRouter, type RunningApp, startApp } from './helpers/apps.js';
import { redisSkipReason, startRedis, startRedisCluster } from './helpers/redis.js';
import { openRaw, openSource, type RecordingSource, sleep, waitFor } from './helpers/sse.js';

const NAMES = ['app.students.changed', 'eventrail.resync', 'eventrail.connected'];
/** Past the history of 5 entries on every broker (Redis trims whole stream nodes of 100). */
const TRIM_PAST = 250;

interface Backend {
  readonly broker: Broker;
  stop(): Promise<void>;
}

async function redisBackend(options: RedisBrokerOptions, stop: () => Promise<void>) {
  const broker = createRedisBroker({ ...options, historySize: 5 });
  return {
    broker,
    async stop() {
      await broker.close();
      await stop();
    },
  };
}

const BACKENDS: Array<[string, () => Promise<Backend>, string | undefined]> = [
  [
    'memory',
    async () => ({ broker: createMemoryBroker({ historySize: 5 }), stop: async () => {} }),
    undefined,
  ],
  ...(['pattern', 'sharded'] as const).map(
    (channels): [string, () => Promise<Backend>, string | undefined] => [
      `one Redis, ${channels} channels`,
      async () => {
        const redis = await startRedis();
        return redisBackend({ url: redis.url, channels }, () => redis.stop());
      },
      redisSkipReason(),
    ],
  ),
  [
    'a Redis Cluster',
    async () => {
      const cluster = await startRedisCluster();
      return redisBackend({ cluster: { rootNodes: cluster.rootNodes } }, () => cluster.stop());
    },
    redisSkipReason(),
  ],
];

const principal = (scope: number | string): Principal => ({ userId: 1, scopeId: scope });
const payloads = (s: RecordingSource) =>
  s.named('app.students.changed').map((e) => Number(JSON.parse(e.data)));

for (const [where, start, skip] of BACKENDS) {
  describe(`render position (${where})`, { skip }, () => {
    let backend: Backend;
    let app: RunningApp;
    let scope = 0;
    /** Each test gets scopes of its own. */
    const nextScope = () => ++scope;
    const publish = (s: number | string, n: number) =>
      app.sse.publisher.publishEvent(`gym:${s}:students`, {
        eventType: 'students.changed',
        data: n,
      });
    const open = (s: number, position: string) =>
      openSource(`${app.url}/events?scope=${s}&lastEventId=${position}`, NAMES);

    before(async () => {
      backend = await start();
      app = await startApp('node:http', {
        broker: backend.broker,
        resolver: queryResolver,
        router: queryRouter,
        eventNamePrefix: 'app',
      });
    });
    after(async () => {
      await app?.stop();
      await backend?.stop();
    });

    it('is the id a stream opened now starts with (its hello id), and replays nothing', async () => {
      const s = nextScope();
      await publish(s, 0);
      const position = await app.sse.lastEventId(principal(s));
      assert.ok(position);
      const fresh = openSource(`${app.url}/events?scope=${s}`, NAMES);
      await waitFor(() => fresh.named('eventrail.connected').length === 1, 'the hello');
      assert.equal(fresh.named('eventrail.connected')[0]?.id, position);
      fresh.close();
      // Opened from it with nothing changed: the hello (at the same id) and nothing else.
      const page = open(s, position);
      await waitFor(() => page.named('eventrail.connected').length === 1, 'the hello');
      await publish(s, 1);
      await waitFor(() => payloads(page).length === 1, 'the live event');
      assert.deepEqual(payloads(page), [1]);
      assert.equal(page.named('eventrail.resync').length, 0);
      assert.equal(page.named('eventrail.connected')[0]?.id, position);
      page.close();
    });

    it('replays what was published after the render, once and in order, then live; nothing before it', async () => {
      const s = nextScope();
      await publish(s, 1);
      await publish(s, 2);
      const position = await app.sse.lastEventId(principal(s));
      assert.ok(position);
      for (let n = 3; n <= 6; n++) await publish(s, n);
      const page = open(s, position);
      await waitFor(() => payloads(page).length === 4, 'the four published after the render');
      await publish(s, 7);
      await waitFor(() => payloads(page).length === 5, 'the live one');
      // Time for a duplicate to show up if there were one.
      await sleep(100);
      assert.deepEqual(payloads(page), [3, 4, 5, 6, 7]);
      assert.equal(page.named('eventrail.resync').length, 0);
      page.close();
    });

    it('covers every scope of a principal in one id', async () => {
      const [a, b] = [nextScope(), nextScope()];
      const routes = [`gym:${a}:*`, `gym:${b}:*`];
      const query = routes.map((r) => `route=${r}`).join('&');
      const position = await app.sse.lastEventId({ ...principal(a), routes } as Principal);
      assert.ok(position);
      await publish(b, 1);
      await publish(a, 2);
      const page = openSource(`${app.url}/events?${query}&lastEventId=${position}`, NAMES);
      await waitFor(() => payloads(page).length === 2, 'one event of each scope');
      await sleep(100);
      assert.deepEqual(payloads(page).sort(), [1, 2]);
      assert.equal(page.named('eventrail.resync').length, 0);
      page.close();
    });

    it('resyncs once when the history no longer holds the render position', async () => {
      const s = nextScope();
      const position = await app.sse.lastEventId(principal(s));
      assert.ok(position);
      for (let n = 1; n <= TRIM_PAST; n++) await publish(s, n);
      const page = open(s, position);
      await waitFor(() => page.named('eventrail.resync').length === 1, 'the resync');
      await publish(s, TRIM_PAST + 1);
      await waitFor(() => payloads(page).length === 1, 'the live event');
      await sleep(100);
      assert.equal(page.named('eventrail.resync').length, 1);
      assert.deepEqual(payloads(page), [TRIM_PAST + 1]);
      page.close();
    });

    it('resolves a request with the server’s resolver (node:http and fetch)', async () => {
      const s = nextScope();
      const expected = await app.sse.lastEventId(principal(s));
      const fromFetch = await app.sse.lastEventId(new Request(`http://x/page?scope=${s}`));
      assert.equal(fromFetch, expected);
      const seen = new Promise<string | undefined>((resolve, reject) => {
        const server = createServer((req: IncomingMessage, res) => {
          app.sse.lastEventId(req).then(resolve, reject);
          res.end();
          server.close();
        }).listen(0, '127.0.0.1', () => {
          const { port } = server.address() as AddressInfo;
          void fetch(`http://127.0.0.1:${port}/page?scope=${s}`).then((r) => r.text());
        });
      });
      assert.equal(await seen, expected);
    });

    it('refuses what the resolver refuses, and no principal, with typed errors', async () => {
      await assert.rejects(app.sse.lastEventId(new Request('http://x/page?deny')), (err) =>
        isEventrailError(err, 'unauthorized'),
      );
      await assert.rejects(app.sse.lastEventId(null as unknown as Principal), (err) =>
        isEventrailError(err, 'unauthorized'),
      );
      await assert.rejects(
        app.sse.lastEventId({ ...principal(1), routes: ['*'] } as Principal),
        (err) => isEventrailError(err, 'invalid-pattern'),
      );
    });

    it('a stream opened from a raw fetch with the position as the query parameter gets its replay', async () => {
      const s = nextScope();
      const position = await app.sse.lastEventId(principal(s));
      await publish(s, 9);
      const raw = await openRaw(`${app.url}/events?scope=${s}&lastEventId=${position}`);
      await waitFor(() => raw.events.some((e) => e.event === 'app.students.changed'), 'the replay');
      assert.deepEqual(
        raw.events.map((e) => e.event),
        ['eventrail.connected', 'app.students.changed'],
      );
      raw.abort();
    });
  });
}

describe('render position without a history', () => {
  it('is undefined: streams carry no ids', async () => {
    const broker = createMemoryBroker({ history: false });
    const app = await startApp('node:http', {
      broker,
      resolver: queryResolver,
      router: queryRouter,
    });
    try {
      assert.equal(await app.sse.lastEventId(principal(1)), undefined);
    } finally {
      await app.stop();
      await broker.close();
    }
  });
});
