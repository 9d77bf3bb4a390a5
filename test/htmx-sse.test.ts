/**
 * The page of examples/gym/README.md's "htmx's own SSE extension" section, for real: htmx and
 * htmx-ext-sse (from node_modules) in Debian's Chromium against an eventrail server, with the
 * README's markup and origin snippet. Two tabs of one scope: a change published by the app reaches
 * both, a change made by one tab refetches only in the other, and a tab whose stream the browser
 * gave up on (htmx-ext-sse then opens a new EventSource, which sends no Last-Event-ID) refetches
 * when `sse:eventrail.connected` is in its trigger, as the README advises.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { createSseServer, readOrigin, type SseServer } from 'eventrail';
import { createMemoryBroker } from 'eventrail/memory';
import type { Page } from 'playwright-core';
import { chromiumSkipReason } from './e2e/browser.js';
import { type PageRig, startPageRig } from './e2e/page-rig.js';
import { sleep, waitFor } from './helpers/sse.js';

const skip = chromiumSkipReason();
const require = createRequire(import.meta.url);
const DEADLINE_MS = 2_000;
// After a change, time for a duplicate refetch to show up if there were one.
const SETTLE_MS = 400;
// htmx attaches a swapped-in element's triggers when the swap settles; the page widens htmx's
// default settle delay (20 ms) so that only the markup's settle:0ms keeps events from being lost
// in between.
const SETTLE_DELAY_MS = 500;

const TRIGGER = 'sse:app.students.changed, sse:eventrail.resync, sse:eventrail.connected';

/** The list fragment, as the app would render it: the element keeps its hx-* attributes. */
const fragment = (version: number): string =>
  `<section id="students" hx-get="/students/fragment" hx-trigger="${TRIGGER}" hx-swap="outerHTML settle:0ms" hx-sync="this:replace">v${version}</section>`;

// The README's page: the extension on <body>, the list refetched on eventrail's events, and the
// snippet that sends the stream's connection id as the origin header on htmx's requests.
const page = (version: number): string => `<!doctype html>
<html><head>
<script src="/assets/htmx.min.js"></script>
<script src="/assets/sse.js"></script>
<script>htmx.config.defaultSettleDelay = ${SETTLE_DELAY_MS};</script>
</head>
<body hx-ext="sse" sse-connect="/events">
${fragment(version)}
<button id="add" hx-post="/students" hx-target="#students" hx-swap="outerHTML settle:0ms">add</button>
<script>
  let connectionId;
  document.body.addEventListener('htmx:sseOpen', (e) => {
    e.detail.source.addEventListener('eventrail.connected', (m) => {
      connectionId = JSON.parse(m.data).connectionId;
    });
  });
  document.body.addEventListener('htmx:configRequest', (e) => {
    if (connectionId) e.detail.headers['x-eventrail-origin'] = connectionId;
  });
</script>
</body></html>`;

describe('htmx-ext-sse against eventrail, in Chromium', { skip }, () => {
  let sse: SseServer;
  let rig: PageRig | undefined;
  let base = '';
  let version = 0;
  /** Fragment fetches per tab (by the page URL htmx sends in HX-Current-URL). */
  const fetches = new Map<string, number>();
  const streams = new Set<ServerResponse>();
  /** Answer this many stream requests with 503, as a proxy does while an instance restarts. */
  let refuseStreams = 0;
  const tabs = new Map<string, Page>();
  /** Runs after tab b's next fragment response is written. */
  let afterNextFragment: (() => void) | undefined;
  /** Holds tab b's next fragment response 300 ms, after calling this. */
  let holdNextFragment: (() => void) | undefined;
  /** The next change, from the app (or from the tab whose stream is `origin`). */
  const publish = (origin?: string): Promise<void> => {
    version++;
    return sse.publisher.publishEvent('gym:1:students', {
      eventType: 'students.changed',
      data: { id: version },
      origin,
    });
  };

  before(
    async () => {
      const assets = new Map([
        ['/assets/htmx.min.js', await readFile(require.resolve('htmx.org/dist/htmx.min.js'))],
        ['/assets/sse.js', await readFile(require.resolve('htmx-ext-sse/dist/sse.js'))],
      ]);
      sse = createSseServer({
        broker: createMemoryBroker(),
        resolver: () => ({ userId: 1, scopeId: 1 }),
        router: (principal) => [`gym:${principal.scopeId}:*`],
        eventNamePrefix: 'app',
        retryMs: 200,
      });
      rig = await startPageRig((req, res) => {
        const url = req.url ?? '/';
        const asset = assets.get(url);
        if (asset) {
          res.writeHead(200, { 'content-type': 'text/javascript' }).end(asset);
        } else if (url.startsWith('/events')) {
          if (refuseStreams > 0) {
            refuseStreams--;
            res.writeHead(503).end();
            return;
          }
          streams.add(res);
          res.once('close', () => streams.delete(res));
          void sse.handler(req, res);
        } else if (url === '/students/fragment') {
          const tab = String(req.headers['hx-current-url'] ?? '?');
          fetches.set(tab, (fetches.get(tab) ?? 0) + 1);
          if (tab.endsWith('tab=b') && holdNextFragment) {
            // Rendered now, sent later: a change published meanwhile is not in it.
            const then = holdNextFragment;
            holdNextFragment = undefined;
            const body = fragment(version);
            then();
            // An aborted request (hx-sync replace) closes first; nothing to answer then.
            setTimeout(() => res.writeHead(200, { 'content-type': 'text/html' }).end(body), 300);
            return;
          }
          res.writeHead(200, { 'content-type': 'text/html' }).end(fragment(version));
          // Once per tab's fetch: the later one decides when the next change is published.
          if (tab.endsWith('tab=b')) {
            const then = afterNextFragment;
            afterNextFragment = undefined;
            then?.();
          }
        } else if (url === '/students' && req.method === 'POST') {
          void publish(readOrigin(req.headers)).then(() =>
            res.writeHead(200, { 'content-type': 'text/html' }).end(fragment(version)),
          );
        } else if (url.startsWith('/page')) {
          res.writeHead(200, { 'content-type': 'text/html' }).end(page(version));
        } else {
          res.writeHead(404).end();
        }
      });
      base = rig.base;
      for (const name of ['a', 'b']) {
        const tab = await (await rig.browser.newContext()).newPage();
        await tab.goto(`${base}/page?tab=${name}`);
        tabs.set(name, tab);
      }
      // Both streams open, and their first eventrail.connected refetch done.
      await waitFor(
        () => streams.size === 2 && countOf('a') === 1 && countOf('b') === 1,
        'both streams and their first refetch',
        DEADLINE_MS,
      );
    },
    { timeout: 60_000 },
  );

  after(
    async () => {
      await sse?.close();
      await rig?.stop();
    },
    { timeout: 20_000 },
  );

  const countOf = (tab: string): number => fetches.get(`${base}/page?tab=${tab}`) ?? 0;
  const shown = async (tab: string): Promise<string> =>
    ((await (tabs.get(tab) as Page).locator('#students').textContent()) ?? '').trim();

  test('an event the app publishes refetches the list in every tab, once', async () => {
    await publish();
    await waitFor(
      async () => (await shown('a')) === `v${version}` && (await shown('b')) === `v${version}`,
      'both tabs refetched',
      DEADLINE_MS,
    );
    await sleep(SETTLE_MS);
    assert.equal(countOf('a'), 2);
    assert.equal(countOf('b'), 2);
  });

  test("a tab's own change updates it from its response; only the other tab refetches", async () => {
    await (tabs.get('a') as Page).click('#add');
    await waitFor(
      async () => (await shown('a')) === `v${version}` && countOf('b') === 3,
      'the acting tab updated and the other refetched',
      DEADLINE_MS,
    );
    assert.equal(await shown('b'), `v${version}`);
    await sleep(SETTLE_MS);
    assert.equal(countOf('a'), 2, 'the acting tab refetched its own change');
    assert.equal(countOf('b'), 3);
  });

  test('an event arriving right after a swap still refetches (settle:0ms)', async () => {
    const before = countOf('b');
    afterNextFragment = () => setTimeout(() => void publish(), 150);
    await publish();
    await waitFor(
      async () => countOf('b') === before + 2 && (await shown('b')) === `v${version}`,
      'a refetch per event',
      DEADLINE_MS,
    );
    await sleep(SETTLE_MS);
    assert.equal(countOf('b'), before + 2, 'one refetch per event, no more');
  });

  test('an event arriving while the list refetches refetches it again (hx-sync replace)', async () => {
    // Without hx-sync, htmx queues the second refetch on the element and drops it when the first
    // response replaces the element: the list would show the first change only.
    const before = countOf('b');
    holdNextFragment = () => setTimeout(() => void publish(), 100);
    await publish();
    await waitFor(
      async () => countOf('b') === before + 2 && (await shown('b')) === `v${version}`,
      'a refetch per event',
      DEADLINE_MS,
    );
    await sleep(SETTLE_MS);
    assert.equal(await shown('b'), `v${version}`);
  });

  test('a stream the browser gave up on reopens and the list catches up', async () => {
    // Tab b's stream drops and its next connect is refused: the browser closes the EventSource
    // and htmx-ext-sse opens a new one, without Last-Event-ID. A change made meanwhile is not
    // replayed to it; eventrail.connected in the trigger refetches the list instead.
    const before = countOf('b');
    refuseStreams = 2;
    for (const res of streams) res.destroy();
    await publish();
    // Both tabs reconnect and refetch on their own schedule: wait for each, not for b alone.
    await waitFor(
      async () =>
        streams.size === 2 &&
        (await shown('b')) === `v${version}` &&
        (await shown('a')) === `v${version}`,
      'the streams back and both lists caught up',
      10_000,
    );
    assert.ok(countOf('b') > before);
  });
});
