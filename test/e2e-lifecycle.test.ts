/**
 * The page life cycle a phone sees, against `demo:cluster`, in each engine of the rig: a tab put in
 * the back/forward cache (it navigates away and comes back) and a tab frozen (Page Lifecycle
 * `freeze`, as a phone's browser does to a background tab; Chromium only, through CDP) come back
 * live, and a change made meanwhile shows. Two tabs of alice share one stream (SharedWorker, or
 * Web Locks where the engine's driver can delete SharedWorker first); the one that leaves is the
 * second, so that the stream itself stays with the first.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type DemoCluster, startDemoCluster } from './e2e/cluster.js';
import { addStudentAs } from './e2e/cluster-stats.js';
import { GymTab } from './e2e/gym-tab.js';
import {
  ENGINES,
  engineSkipReason,
  launchRig,
  type RigBrowser,
  type RigContext,
  waitInPage,
} from './e2e/rig.js';
import { redisSkipReason } from './helpers/redis.js';

const DEADLINE_MS = 10_000;
const url = () => (cluster as DemoCluster).url;

/** Whether the page is still the same document (restored from the back/forward cache). */
const mark = () => {
  (window as { __same?: boolean }).__same = true;
};
const same = () => (window as { __same?: boolean }).__same === true;

let cluster: DemoCluster | undefined;

before(async () => {
  if (redisSkipReason() === undefined) cluster = await startDemoCluster();
});
after(() => cluster?.stop(), { timeout: 20_000 });

for (const engine of ENGINES) {
  const skip = engineSkipReason(engine) ?? redisSkipReason();
  describe(`page life cycle in ${engine}`, { skip }, () => {
    let browser: RigBrowser | undefined;
    let alice: RigContext;
    let first: GymTab;
    let second: GymTab;
    let added = 0;

    before(
      async () => {
        assert.ok(cluster);
        browser = await launchRig(engine);
        alice = await browser.newContext();
        first = await GymTab.open(alice, `${url()}/login?user=alice&gym=1`);
        second = await GymTab.open(alice, `${url()}/`);
      },
      { timeout: 120_000 },
    );
    after(
      async () => {
        await browser?.close().catch(() => {});
      },
      { timeout: 20_000 },
    );

    test('a tab that went back and forth (back/forward cache) is live and shows what changed', async () => {
      const was = await second.client();
      await second.page.evaluate(mark, undefined);
      await second.page.goto(`${url()}/healthz`);
      const name = `Away ${++added}`;
      assert.equal(await addStudentAs(url(), 'bob', name), 200);
      await first.waitForStudent(name, DEADLINE_MS);
      await second.page.back();
      await waitInPage(
        second.page,
        () => location.pathname === '/' && document.readyState === 'complete',
        undefined,
        'back on the gym page',
      );
      const restored = await second.page.evaluate(same, undefined);
      // Restored, it is the same page with the same id; else a new page loaded with the list.
      if (!restored) await second.live();
      await second.waitForStudent(name, DEADLINE_MS);
      const now = await second.client();
      console.log(
        `# ${engine}: ${restored ? 'restored from the back/forward cache' : 'not cached, loaded again'}; sharing ${now.sharing}`,
      );
      assert.equal(now.state, 'open');
      if (restored) assert.equal(now.connectionId, was.connectionId, 'the same tab id');
      // And it is live: the next change shows too.
      const next = `Back ${added}`;
      assert.equal(await addStudentAs(url(), 'bob', next), 200);
      await second.waitForStudent(next, DEADLINE_MS);
      await first.waitForStudent(next, DEADLINE_MS);
    });

    // Only Chromium's driver can freeze a page (CDP Page.setWebLifecycleState): elsewhere the test
    // is not defined, rather than counted as skipped.
    if (engine !== 'chromium') return;
    test('a frozen tab resumes with its id and gets what it missed', async () => {
      const was = await second.client();
      const events = await second.events();
      await second.page.lifecycle?.('frozen');
      const name = `Frozen ${++added}`;
      assert.equal(await addStudentAs(url(), 'bob', name), 200);
      await first.waitForStudent(name, DEADLINE_MS);
      await second.page.lifecycle?.('active');
      await second.waitForStudent(name, DEADLINE_MS);
      const now = await second.client();
      assert.equal(now.connectionId, was.connectionId, 'the same tab id');
      assert.equal(now.state, 'open');
      assert.equal((await second.events()) - events, 1, 'the missed event, once');
    });
  });
}
