/**
 * One stream per browser however many tabs (issue 21), over plain HTTP/1.1 against
 * `demo:cluster`, whose page connects with `share: true`, in each engine of the rig (rig.ts): run by
 * test/e2e-shared.test.ts with a SharedWorker, and by test/e2e-shared-locks.test.ts with the
 * SharedWorker deleted (the tabs elect a leader with Web Locks and relay over BroadcastChannel), in
 * Chromium; by test/e2e-shared-firefox.test.ts and test/e2e-shared-webkit.test.ts in the others.
 * One file per engine (two for Chromium): each fits the suite's per-file timeout.
 *
 * Eight tabs of alice are live on one server connection and one browser socket; a change made in
 * tab 3 reaches the seven others within 2 s and tab 3 does not refetch; a ninth tab opens at once;
 * the tab that opened the stream closes and the instance holding it is killed, and an event
 * published meanwhile reaches each remaining tab exactly once; so it does when a tab crashes (with
 * locks, the leader); carol (gym 2, another context) receives nothing throughout.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BROWSER_TABS_MS } from '../helpers/budgets.js';
import { redisSkipReason } from '../helpers/redis.js';
import { sleep, waitFor } from '../helpers/sse.js';
import { allowingFor } from '../helpers/stopwatch.js';
import { type DemoCluster, startDemoCluster } from './cluster.js';
import { addStudentAs, clientSockets, connections, ssSkipReason, total } from './cluster-stats.js';
import { GymTab, type TabCounts } from './gym-tab.js';
import {
  type Engine,
  engineSkipReason,
  launchRig,
  type RigBrowser,
  type RigContext,
} from './rig.js';

const TABS = 8;
const DEADLINE_MS = 2_000;
const SETTLE_MS = 500;

/** How the tabs share: `worker` (SharedWorker) or `locks` (SharedWorker deleted in every page). */
export type ShareMode = 'worker' | 'locks';

/** Deletes SharedWorker before the page's scripts: the client falls back to Web Locks. */
const NO_SHARED_WORKER = 'delete window.SharedWorker;';

/** Why the suite cannot run in `engine` for `mode` here, or undefined. */
function skipReason(mode: ShareMode, engine: Engine): string | undefined {
  const missing = engineSkipReason(engine) ?? redisSkipReason() ?? ssSkipReason();
  if (missing !== undefined) return missing;
  if (mode === 'locks' && engine === 'webkit') {
    // Loud, and not a CI failure: what cannot be run here, said where it is run.
    process.stderr.write(
      '\n!!! SKIPPING the Web Locks fallback in WebKit: WebKitWebDriver (classic WebDriver) cannot run a script before the page to delete SharedWorker; the fallback is proven in Chromium and Firefox !!!\n\n',
    );
    return 'WebKitWebDriver cannot delete SharedWorker before the page';
  }
  return undefined;
}

/** The whole proof for one way of sharing in one engine (one demo cluster, one browser). */
export function sharedStreamSuite(mode: ShareMode, engine: Engine = 'chromium'): void {
  const skip = skipReason(mode, engine);
  const how =
    mode === 'worker' ? 'SharedWorker' : 'SharedWorker disabled: Web Locks + BroadcastChannel';
  describe(`${TABS} tabs share one stream in ${engine} (${how})`, { skip }, () => {
    let cluster: DemoCluster;
    let browser: RigBrowser | undefined;
    let alice: RigContext;
    let carol: GymTab;
    const tabs: GymTab[] = [];
    let proxyPort = 0;
    /** The instance alice's stream is on. */
    let aliceInstance = '';

    before(
      async () => {
        cluster = await startDemoCluster();
        proxyPort = Number(new URL(cluster.url).port);
        browser = await launchRig(engine);
        console.log(`# ${engine}: ${browser.version}`);
        const initScript = mode === 'locks' ? NO_SHARED_WORKER : undefined;
        try {
          alice = await browser.newContext({ initScript });
          const login = await alice.newPage();
          await login.goto(`${cluster.url}/login?user=alice&gym=1`);
          await login.close();
          // The first tab opens the stream (and leads, with locks) before the others join.
          tabs.push(await GymTab.open(alice, `${cluster.url}/`));
          const rest = [];
          for (let i = 1; i < TABS; i++) rest.push(GymTab.open(alice, `${cluster.url}/`));
          tabs.push(...(await Promise.all(rest)));
        } catch (err) {
          // What the cluster said (an instance that died, the proxy's errors) is the clue.
          const said = cluster.output().slice(-4_000);
          throw new Error(`${String(err)}\n--- demo:cluster's output ---\n${said}`, { cause: err });
        }
      },
      { timeout: BROWSER_TABS_MS },
    );

    after(
      async () => {
        await browser?.close().catch(() => {});
        await cluster?.stop();
      },
      { timeout: 20_000 },
    );

    test('every tab is live, shares the one stream, and the server and browser hold one connection', async () => {
      for (const [i, tab] of tabs.entries()) {
        const client = await tab.client();
        assert.equal(client.state, 'open', `tab ${i + 1}`);
        assert.equal(client.sharing, mode, `tab ${i + 1} shares by ${mode}`);
        assert.match(client.connectionId ?? '', /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'a tab origin');
      }
      await waitFor(async () => (await tabs[0]?.client())?.tabs === TABS, `${TABS} tabs counted`);
      assert.equal(
        await tabs[7]?.page.evaluate(() => document.getElementById('tabs')?.textContent, 0),
        `${TABS} tabs`,
      );
      const origins = await Promise.all(tabs.map(async (t) => (await t.client()).connectionId));
      assert.equal(new Set(origins.map((o) => o?.split('.')[0])).size, 1, 'one connection id');
      assert.equal(new Set(origins).size, TABS, 'each tab its own origin');
      // The sign-in page's tab opened a stream too before it closed: wait for its end.
      await waitFor(async () => total(await connections(cluster)) === 1, 'one connection', 5_000);
      await sleep(300);
      const counts = await connections(cluster);
      assert.equal(total(counts), 1, 'the server counts one connection');
      aliceInstance = [...counts].find(([, n]) => n === 1)?.[0] ?? '';
      // Idle page-load sockets are closed by the proxy after 5 s; the stream's socket stays (a
      // socket Chromium connected ahead and never used carries nothing and does not count).
      const deadline = Date.now() + 20_000;
      while (clientSockets(proxyPort) > 1 && Date.now() < deadline) await sleep(100);
      await sleep(300);
      assert.equal(clientSockets(proxyPort), 1, 'the browser holds one socket to the origin');
      assert.equal(total(await connections(cluster)), 1, 'and the server one connection');
    });

    test('carol of gym 2 in another browser context connects on her own', async () => {
      assert.ok(browser);
      const initScript = mode === 'locks' ? NO_SHARED_WORKER : undefined;
      const context = await browser.newContext({ initScript });
      carol = await GymTab.open(context, `${cluster.url}/login?user=carol&gym=2`);
      assert.equal(total(await connections(cluster)), 2, "carol's stream is hers alone");
      assert.equal((await carol.client()).tabs, 1);
    });

    test('a student added in tab 3 appears in the seven others within 2 s; tab 3 does not refetch', async () => {
      const actor = tabs[2] as GymTab;
      const before = await Promise.all(tabs.map((t) => t.counts()));
      const response = await actor.addStudent(`Ada ${mode}`);
      // From the moment the page sent the change (the drivers differ in how long typing takes).
      const started = response.sentAt;
      assert.equal(response.status, 200);
      assert.equal(
        response.origin,
        (await actor.client()).connectionId,
        "the change carried tab 3's origin",
      );
      const answered = response.answeredAt - started;
      const seen = await Promise.all(
        tabs.map(async (t) => (await t.waitForStudent(`Ada ${mode}`, 10_000)) - started),
      );
      console.log(
        `# ${mode}: change in tab 3 answered in ${answered} ms; tabs updated at ${seen.join(', ')} ms`,
      );
      const limit = allowingFor(DEADLINE_MS, answered);
      if (Math.max(...seen) > limit) {
        for (const [i, tab] of tabs.entries()) {
          const t = await tab.timings();
          console.log(
            `# tab ${i + 1}: events at ${t.eventsAt.map((x) => x - started)}; refetches ${t.fragmentsAt.map(([x, y]) => `${x - started}-${y - started}`)}`,
          );
        }
      }
      assert.ok(
        Math.max(...seen) <= limit,
        `all tabs updated within ${DEADLINE_MS} ms plus twice the post's ${answered} ms: ${seen}`,
      );
      await sleep(SETTLE_MS);
      for (const [i, tab] of tabs.entries()) {
        const was = before[i] as TabCounts;
        const now = await tab.counts();
        const own = tab === actor;
        assert.equal(now.swaps - was.swaps, 1, `tab ${i + 1} updates once`);
        assert.equal(now.events - was.events, own ? 0 : 1, `tab ${i + 1} events`);
        assert.equal(now.fragments - was.fragments, own ? 0 : 1, `tab ${i + 1} refetches`);
      }
      assert.equal(await carol.events(), 0, 'gym 2 receives no event');
      assert.equal((await carol.counts()).fragments, 0, 'gym 2 refetches nothing');
    });

    test('a ninth tab opens at once, on the same stream', async () => {
      // From the navigation on (the drivers differ in how long opening a tab takes), against a
      // plain page load in the same tab just before (what the machine's load makes of a load).
      const page = await alice.newPage();
      const plainAt = Date.now();
      await page.goto(`${cluster.url}/healthz`);
      const plain = Date.now() - plainAt;
      const started = Date.now();
      const ninth = await GymTab.on(page, `${cluster.url}/`, 30_000);
      const took = Date.now() - started;
      console.log(`# ${mode}: ninth tab live in ${took} ms (a plain page: ${plain} ms)`);
      const limit = allowingFor(3_000, plain);
      assert.ok(took < limit, `ninth tab took ${took} ms, over ${limit} ms`);
      assert.deepEqual(await ninth.students(), [`Ada ${mode}`]);
      await waitFor(async () => (await ninth.client()).tabs === TABS + 1, 'nine tabs counted');
      assert.equal(total(await connections(cluster)), 2, 'still one stream for alice (and carol)');
      await ninth.page.close();
      await waitFor(async () => (await tabs[1]?.client())?.tabs === TABS, 'back to eight tabs');
    });

    test('the instance holding the stream dies and the first tab closes: the others get what was published meanwhile, once', async () => {
      const holder = aliceInstance;
      await cluster.kill(holder, 'SIGKILL');
      const was = await Promise.all(tabs.map((t) => t.counts()));
      // Meanwhile bob (gym 1, no browser) adds a student; the proxy sends it to the survivor.
      assert.equal(await addStudentAs(cluster.url, 'bob', `Grace ${mode}`), 200);
      // Before the stream is back (the retry hint is 3 s), the tab that opened it goes: with
      // locks, the next tab leads and resumes from the last id the group saw.
      const first = tabs.shift() as GymTab;
      was.shift();
      await first.page.close();
      await Promise.all(tabs.map((t) => t.waitForStudent(`Grace ${mode}`, 15_000)));
      await sleep(SETTLE_MS);
      for (const [i, tab] of tabs.entries()) {
        const now = await tab.counts();
        const prior = was[i] as TabCounts;
        assert.equal(now.events - prior.events, 1, `tab ${i + 2}: the missed event replayed once`);
        assert.equal(now.swaps - prior.swaps, 1, `tab ${i + 2}: one update`);
        assert.equal(now.fragments - prior.fragments, 1, `tab ${i + 2}: one refetch`);
        assert.equal((await tab.client()).state, 'open');
      }
      const dead = new Set([holder]);
      await waitFor(
        async () => total(await connections(cluster, dead)) === 2,
        'alice and carol on the survivor',
      );
      // And the new stream is live.
      const again = await (tabs[1] as GymTab).addStudent(`Hedy ${mode}`);
      const started = again.sentAt;
      assert.equal(again.status, 200);
      const seen = await Promise.all(
        tabs.map(async (t) => (await t.waitForStudent(`Hedy ${mode}`, 10_000)) - started),
      );
      const answered = again.answeredAt - started;
      console.log(
        `# ${mode}: after the takeover, change answered in ${answered} ms -> tabs updated at ${seen.join(', ')} ms`,
      );
      const limit = allowingFor(DEADLINE_MS, answered);
      assert.ok(Math.max(...seen) <= limit, `all tabs updated within ${limit} ms: ${seen}`);
      assert.equal(await carol.events(), 0, 'gym 2 received nothing');
      assert.equal((await carol.counts()).fragments, 0);
    });

    // Only Chromium's driver can crash a tab (CDP Page.crash): elsewhere the test is not defined,
    // rather than counted as skipped.
    if (engine !== 'chromium') return;
    test('a tab that crashes hands over too: the others get what was published meanwhile, once', async () => {
      // With locks the first tab leads now; with a SharedWorker any tab will do.
      const crashed = tabs.shift() as GymTab;
      const was = await Promise.all(tabs.map((t) => t.counts()));
      await crashed.page.crash?.();
      assert.equal(await addStudentAs(cluster.url, 'bob', `Alan ${mode}`), 200);
      await Promise.all(tabs.map((t) => t.waitForStudent(`Alan ${mode}`, 10_000)));
      await sleep(SETTLE_MS);
      for (const [i, tab] of tabs.entries()) {
        const now = await tab.counts();
        assert.equal(now.events - (was[i]?.events ?? 0), 1, `tab ${i + 3}: the event once`);
        assert.equal(now.fragments - (was[i]?.fragments ?? 0), 1, `tab ${i + 3}: one refetch`);
      }
      // The crashed tab's lock went with it: the group counts it out.
      await waitFor(
        async () => (await tabs[0]?.client())?.tabs === tabs.length,
        'the tab counted out',
        20_000,
      );
      assert.equal(
        total(await connections(cluster, new Set([aliceInstance]))),
        2,
        'one stream each',
      );
    });
  });
}
