/** The rig's Firefox: Debian's `firefox-esr`, driven by puppeteer-core over WebDriver BiDi. */
import { launch, type Page } from 'puppeteer-core';
import type { ContextOptions, InPage, RigBrowser, RigContext, RigPage } from './rig.js';
import { FIREFOX_PATH, inPageSource } from './rig-tools.js';

function rigPage(page: Page): RigPage {
  return {
    async goto(url) {
      await page.goto(url, { waitUntil: 'load' });
    },
    evaluate: <A, R>(fn: InPage<A, R>, arg: A) =>
      page.evaluate(inPageSource(fn, arg)) as Promise<R>,
    click: (selector) => page.click(selector),
    async fill(selector, value) {
      await page.locator(selector).fill(value);
    },
    async bringToFront() {
      await page.bringToFront();
    },
    close: () => page.close(),
    async back() {
      await page.evaluate('history.back()');
    },
  };
}

export async function launchFirefoxRig(): Promise<RigBrowser> {
  const browser = await launch({
    browser: 'firefox',
    executablePath: FIREFOX_PATH,
    headless: true,
    timeout: 30_000,
    extraPrefsFirefox: {
      // As the Chromium flags: nothing of its own on the network.
      'app.update.enabled': false,
      'network.captive-portal-service.enabled': false,
      'network.connectivity-service.enabled': false,
    },
  });
  const version = (await browser.version()).replace(/^firefox\//i, 'Firefox/');
  return {
    engine: 'firefox',
    version,
    async newContext(options: ContextOptions = {}): Promise<RigContext> {
      const context = await browser.createBrowserContext();
      return {
        async newPage() {
          const page = await context.newPage();
          if (options.initScript !== undefined) {
            await page.evaluateOnNewDocument(options.initScript);
          }
          return rigPage(page);
        },
        close: () => context.close(),
      };
    },
    close: () => browser.close(),
  };
}
