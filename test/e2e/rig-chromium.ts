/** The rig's Chromium: Debian's, driven by playwright-core over CDP (see browser.ts). */
import type { Page } from 'playwright-core';
import { launchChromium } from './browser.js';
import type { ContextOptions, InPage, RigBrowser, RigContext, RigPage } from './rig.js';
import { inPageSource } from './rig-tools.js';

function rigPage(page: Page): RigPage {
  return {
    async goto(url) {
      await page.goto(url);
    },
    evaluate: <A, R>(fn: InPage<A, R>, arg: A) =>
      page.evaluate(inPageSource(fn, arg)) as Promise<R>,
    click: (selector) => page.click(selector),
    fill: (selector, value) => page.fill(selector, value),
    bringToFront: () => page.bringToFront(),
    close: () => page.close(),
    async back() {
      await page.goBack({ waitUntil: 'commit' });
    },
    async crash() {
      const cdp = await page.context().newCDPSession(page);
      // Never answers: the renderer is gone.
      void cdp.send('Page.crash').catch(() => {});
    },
    async screenshot(size, options = {}) {
      await page.setViewportSize(size);
      return page.screenshot({ fullPage: options.fullPage === true });
    },
    async lifecycle(state) {
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Page.setWebLifecycleState', { state });
      await cdp.detach();
    },
  };
}

export async function launchChromiumRig(): Promise<RigBrowser> {
  const browser = await launchChromium();
  return {
    engine: 'chromium',
    version: `Chromium/${browser.version()}`,
    async newContext(options: ContextOptions = {}): Promise<RigContext> {
      const context = await browser.newContext();
      if (options.initScript !== undefined) await context.addInitScript(options.initScript);
      return {
        newPage: async () => rigPage(await context.newPage()),
        close: () => context.close(),
      };
    },
    close: () => browser.close(),
  };
}
