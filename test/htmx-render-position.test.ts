/**
 * htmx's own SSE extension opening from the page's render position (issue 26), in Chromium: the
 * server renders `sse-connect="/events?lastEventId=<SseServer.lastEventId()>"`, the page's stream
 * request is held (a delayed route) while changes are published, then let through. Events published
 * after the render arrive once and in order, events before it never; with nothing changed the
 * page makes no fragment request (the trigger needs no `sse:eventrail.connected`); a position the
 * history no longer holds gets one resync. On the memory broker, one Redis in both channel modes
 * and a Redis Cluster.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { type Broker, createSseServer, type SseServer } from 'eventrail';
import { createMemoryBroker } from 'eventrail/memory';
import { createRedisBroker, type RedisBrokerOptions } from 'eventrail/redis';
import type { Page } from 'playwright-core';
import { chromiumSkipReason } from './e2e/browser.js';
import { type PageRig, startPageRig } from './e2e/page-rig.js';
import { redisSkipReason, startRedis, startRedisCluster } from './helpers/redis.js';
import { sleep, waitFor } from './helpers/sse.js';

const require = createRequire(import.meta.url);
const DEADLINE_MS = 5_000;
const SETTLE_MS = 500;
/** Past the history of 5 entries on every broker (Redis trims whole stream nodes of 100). */
const TRIM_PAST = 250;
const TRIGGER = 'sse:app.students.changed, sse:eventrail.resync';

/** The list, as the app renders it: the element keeps its hx-* attributes. */
const fragment = (version: number): string =>
  `<section id="students" hx-get="/students/fragment" hx-trigger="${TRIGGER}" hx-swap="outerHTML settle:0ms" hx-sync="this:replace">v${version}</section>`;

const page = (version: number, position: string | undefined) => `<!doctype html>
<html><head>
<script src="/assets/htmx.min.js"></script>
<script src="/assets/sse.js"></script>
<script>
  window.__seen = [];
  document.addEventListener('htmx:sseOpen', (e) => {
    window.__open = true;
    for (const name of ['app.students.changed', 'eventrail.resync'])
      e.detail.source.addEventListener(name, (m) => window.__seen.push(name + ' ' + m.data));
  });
</script>
</head>
<body hx-ext="sse" sse-connect="/events${position ? `?lastEventId=${position}` : ''}">
${fragment(version)}
</body></html>`;

interface Backend {
  readonly broker: Broker;
  stop(): Promise<void>;
}

async function onRedis(options: RedisBrokerOptions, stop: () => Promise<void>): Promise<Backend> {
  const broker = createRedisBroker({ ...options, historySize: 5 });
  return {
    broker,
    async stop() {
      await broker.close();
      await stop();
    },
  };
}

const BACKENDS: Array<[string, () => Promise<Backend>]> = [
  [
    'memory',
    async () => ({ broker: createMemoryBroker({ historySize: 5 }), stop: async () => {} }),
  ],
  ...(['pattern', 'sharded'] as const).map((channels): [string, () => Promise<Backend>] => [
    `one Redis, ${channels} channels`,
    async () => {
      const redis = await startRedis();
      return onRedis({ url: redis.url, channels }, () => redis.stop());
    },
  ]),
  [
    'a Redis Cluster',
    async () => {
      const cluster = await startRedisCluster();
      return onRedis({ cluster: { rootNodes: cluster.rootNodes } }, () => cluster.stop());
    },
  ],
];

for (const [where, start] of BACKENDS) {
  const skip = chromiumSkipReason() ?? (where === 'memory' ? undefined : redisSkipReason());
  describe(`htmx-ext-sse from the render position (${where}), in Chromium`, { skip }, () => {
    let backend: Backend;
    let sse: SseServer;
    let rig: PageRig | undefined;
    let version = 0;
    let fragments = 0;
    /** The next stream request waits for this; `asked` says it arrived. */
    let hold: { asked: boolean; release: () => void; released: Promise<void> } | undefined;
    const publish = () => {
      version++;
      return sse.publisher.publishEvent('gym:1:students', {
        eventType: 'students.changed',
        data: version,
      });
    };

    before(
      async () => {
        const assets = new Map([
          ['/assets/htmx.min.js', await readFile(require.resolve('htmx.org/dist/htmx.min.js'))],
          ['/assets/sse.js', await readFile(require.resolve('htmx-ext-sse/dist/sse.js'))],
        ]);
        backend = await start();
        sse = createSseServer({
          broker: backend.broker,
          resolver: () => ({ userId: 1, scopeId: 1 }),
          router: (principal) => [`gym:${principal.scopeId}:*`],
          eventNamePrefix: 'app',
        });
        rig = await startPageRig((req, res) => {
          const url = req.url ?? '/';
          const asset = assets.get(url);
          if (asset) res.writeHead(200, { 'content-type': 'text/javascript' }).end(asset);
          else if (url.startsWith('/events')) {
            const held = hold;
            hold = undefined;
            if (held) held.asked = true;
            void (held?.released ?? Promise.resolve()).then(() => sse.handler(req, res));
          } else if (url === '/students/fragment') {
            fragments++;
            res.writeHead(200, { 'content-type': 'text/html' }).end(fragment(version));
          } else if (url === '/page') {
            // The position first, then what the page shows.
            void sse.lastEventId(req).then((position) => {
              res.writeHead(200, { 'content-type': 'text/html' }).end(page(version, position));
            });
          } else res.writeHead(404).end();
        });
      },
      { timeout: 60_000 },
    );
    after(
      async () => {
        await sse?.close();
        await rig?.stop();
        await backend?.stop();
      },
      { timeout: 20_000 },
    );

    /** Renders the page with its stream request held; resolves once that request arrived. */
    async function heldPage(): Promise<{ tab: Page; release: () => void }> {
      let release = (): void => {};
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      const held = { asked: false, release, released };
      hold = held;
      fragments = 0;
      const tab = await (await (rig as PageRig).browser.newContext()).newPage();
      await tab.goto(`${(rig as PageRig).base}/page`);
      await waitFor(() => held.asked, 'the stream request', DEADLINE_MS);
      return { tab, release };
    }
    const seen = (tab: Page) => tab.evaluate(() => (window as { __seen?: string[] }).__seen ?? []);
    const shown = async (tab: Page) =>
      ((await tab.locator('#students').textContent()) ?? '').trim();

    test('events published after the render arrive once, in order; those before it never', async () => {
      await publish();
      await publish();
      const { tab, release } = await heldPage();
      const first = version + 1;
      await publish();
      await publish();
      release();
      await waitFor(async () => (await shown(tab)) === `v${version}`, 'the list', DEADLINE_MS);
      await publish();
      await waitFor(async () => (await seen(tab)).length === 3, 'three events', DEADLINE_MS);
      await sleep(SETTLE_MS);
      assert.deepEqual(await seen(tab), [
        `app.students.changed ${first}`,
        `app.students.changed ${first + 1}`,
        `app.students.changed ${first + 2}`,
      ]);
      assert.equal(await shown(tab), `v${version}`);
      await tab.context().close();
    });

    test('with nothing changed since the render, no fragment request', async () => {
      const { tab, release } = await heldPage();
      release();
      await tab.waitForFunction(() => (window as { __open?: boolean }).__open === true);
      await sleep(SETTLE_MS);
      assert.deepEqual(await seen(tab), []);
      assert.equal(fragments, 0);
      await tab.context().close();
    });

    test('a render position the history no longer holds gets one resync', async () => {
      const { tab, release } = await heldPage();
      for (let i = 0; i < TRIM_PAST; i++) await publish();
      release();
      await waitFor(async () => (await shown(tab)) === `v${version}`, 'the list', DEADLINE_MS);
      await sleep(SETTLE_MS);
      assert.deepEqual(await seen(tab), ['eventrail.resync {}']);
      assert.equal(fragments, 1);
      await tab.context().close();
    });
  });
}
