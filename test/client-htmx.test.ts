/**
 * eventrail/client with htmx in Chromium, at the moment htmx is weakest: right after an
 * `outerHTML` swap the new element is in the document but htmx attaches its `hx-trigger`
 * listeners only when the swap settles (`htmx.config.defaultSettleDelay`, 20 ms by default). An
 * invalidation arriving in between must still refetch, or the list stays stale until the next
 * change. The page widens that window to 500 ms so that the test hits it every time. Likewise an
 * invalidation arriving while the element's own refetch is in flight: htmx queues the next request
 * on that element and drops it when the response replaces the element.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSseServer, type SseServer } from 'eventrail';
import { createMemoryBroker } from 'eventrail/memory';
import type { Page } from 'playwright-core';
import { loadAssets } from '../examples/gym/assets.js';
import { chromiumSkipReason } from './e2e/browser.js';
import { type PageRig, startPageRig } from './e2e/page-rig.js';
import { sleep, waitFor } from './helpers/sse.js';

const skip = chromiumSkipReason();
const SETTLE_DELAY_MS = 500;

const fragment = (version: number, attribute = 'data-eventrail-refresh'): string =>
  `<section id="students" hx-get="/students/fragment" hx-trigger="eventrail:refresh" hx-swap="outerHTML" ${attribute}="app.students.changed">v${version}</section>`;

const page = `<!doctype html>
<html><head>
<script src="/assets/htmx.min.js"></script>
<script>htmx.config.defaultSettleDelay = ${SETTLE_DELAY_MS};</script>
</head>
<body>
${fragment(0)}
<script type="module">
  import { connect } from '/assets/eventrail-client.js';
  window.eventrail = connect({ url: '/events' });
</script>
</body></html>`;

describe('eventrail/client and htmx swaps, in Chromium', { skip }, () => {
  let sse: SseServer;
  let rig: PageRig | undefined;
  let tab: Page;
  let version = 0;
  let fetches = 0;
  /** Runs after the next fragment response is written. */
  let afterNextFragment: (() => void) | undefined;
  /** Holds the next fragment response this long (ms), after calling `whenFragmentRequested`. */
  let delayNextFragment = 0;
  let whenFragmentRequested: (() => void) | undefined;

  const publish = (): Promise<void> => {
    version++;
    return sse.publisher.publishEvent('gym:1:students', {
      eventType: 'students.changed',
      data: { id: version },
    });
  };
  const shown = async (): Promise<string> =>
    ((await tab.locator('#students').textContent()) ?? '').trim();

  before(
    async () => {
      const assets = await loadAssets();
      sse = createSseServer({
        broker: createMemoryBroker(),
        resolver: () => ({ userId: 1, scopeId: 1 }),
        router: (principal) => [`gym:${principal.scopeId}:*`],
        eventNamePrefix: 'app',
      });
      rig = await startPageRig((req, res) => {
        const url = req.url ?? '/';
        const asset = assets.get(url);
        if (asset) {
          res.writeHead(200, { 'content-type': asset.type }).end(asset.body);
        } else if (url.startsWith('/events')) {
          void sse.handler(req, res);
        } else if (url === '/students/fragment') {
          fetches++;
          const delay = delayNextFragment;
          delayNextFragment = 0;
          if (delay > 0) {
            // The response renders the list as it is now; it is sent only later.
            const body = fragment(version);
            whenFragmentRequested?.();
            whenFragmentRequested = undefined;
            setTimeout(() => res.writeHead(200, { 'content-type': 'text/html' }).end(body), delay);
            return;
          }
          res.writeHead(200, { 'content-type': 'text/html' }).end(fragment(version));
          const then = afterNextFragment;
          afterNextFragment = undefined;
          then?.();
        } else if (url === '/') {
          res.writeHead(200, { 'content-type': 'text/html' }).end(page);
        } else {
          res.writeHead(404).end();
        }
      });
      tab = await (await rig.browser.newContext()).newPage();
      await tab.goto(`${rig.base}/`);
      await waitFor(
        () =>
          tab.evaluate(
            () => (window as { eventrail?: { state: string } }).eventrail?.state === 'open',
          ),
        'the stream to open',
        10_000,
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

  test('an event refetches the declared element', async () => {
    await publish();
    await waitFor(async () => (await shown()) === `v${version}`, 'the refetched list', 2_000);
    assert.equal(fetches, 1);
  });

  test('an event arriving while the swapped-in element settles still refetches it', async () => {
    // The refetch of the first event is answered; the second change is published 150 ms later,
    // inside the new element's settle window.
    await sleep(SETTLE_DELAY_MS + 100); // the previous test's swap has settled
    afterNextFragment = () => setTimeout(() => void publish(), 150);
    await publish();
    await waitFor(() => fetches === 3, 'a refetch per event', SETTLE_DELAY_MS + 2_000);
    await waitFor(async () => (await shown()) === `v${version}`, 'the latest list', 2_000);
    await sleep(SETTLE_DELAY_MS + 200);
    assert.equal(fetches, 3, 'one refetch per event, no more');
  });

  test('an event arriving while the element refetches refetches again after the swap', async () => {
    // The first change's refetch is held 300 ms, rendered before the second change, which is
    // published meanwhile: htmx queues the second refetch on the element, then drops it when the
    // response replaces that element. Only a third fetch shows the second change.
    const start = fetches;
    await sleep(SETTLE_DELAY_MS + 100);
    delayNextFragment = 300;
    whenFragmentRequested = () => setTimeout(() => void publish(), 100);
    await publish();
    await waitFor(() => fetches === start + 2, 'a refetch per event', SETTLE_DELAY_MS + 3_000);
    await waitFor(async () => (await shown()) === `v${version}`, 'the latest list', 2_000);
    await sleep(SETTLE_DELAY_MS + 200);
    assert.equal(fetches, start + 2, 'one refetch per event, no more');
  });
});
