/**
 * One browser with pages, whatever the engine: the end-to-end tests drive Chromium (playwright-core
 * over CDP), Firefox (puppeteer-core over WebDriver BiDi) and WebKit (selenium-webdriver against
 * WebKitGTK's WebKitWebDriver under Xvfb) through this one interface, so that the same assertions
 * run in each. Everything a test reads comes from the page itself (`evaluate`), none from an
 * engine's network events, which WebKitWebDriver has none of.
 */
import { missingTool } from '../helpers/ci.js';
import { sleep } from '../helpers/sse.js';
import { launchChromiumRig } from './rig-chromium.js';
import { launchFirefoxRig } from './rig-firefox.js';
import { ENGINE_TOOLS, type Engine, toolMissing } from './rig-tools.js';
import { launchWebKitRig } from './rig-webkit.js';

export type { Engine } from './rig-tools.js';
export { ENGINES, RigUnsupported } from './rig-tools.js';

/** A function run in the page: plain JavaScript, its argument and result JSON values. */
export type InPage<A, R> = (arg: A) => R | Promise<R>;

/** One tab. */
export interface RigPage {
  /** Loads `url` and resolves once its `load` event fired. */
  goto(url: string): Promise<void>;
  /** Runs `fn(arg)` in the page (its source is sent, so it may use nothing from outside). */
  evaluate<A, R>(fn: InPage<A, R>, arg: A): Promise<R>;
  /** Clicks the first element matching the CSS `selector`. */
  click(selector: string): Promise<void>;
  /** Types `value` into the first input matching `selector`, replacing what it held. */
  fill(selector: string, value: string): Promise<void>;
  /** Makes this the browser's active tab, as a user's click on it would. */
  bringToFront(): Promise<void>;
  close(): Promise<void>;
  /** Chromium only: kills the renderer, as a crash would (the tab's locks and ports go with it). */
  readonly crash?: () => Promise<void>;
  /**
   * Chromium only (CDP `Page.setWebLifecycleState`): the Page Lifecycle's freeze, as a phone's
   * browser does to a tab in the background, then its resume.
   */
  readonly lifecycle?: (state: 'frozen' | 'active') => Promise<void>;
  /**
   * Chromium only: sets the viewport to `size` and takes a PNG of it (of the whole page with
   * `fullPage`). The docs' screenshot is Chromium's; the other engines' drivers are not asked.
   */
  readonly screenshot?: (
    size: { width: number; height: number },
    options?: { fullPage?: boolean },
  ) => Promise<Buffer>;
  /**
   * Goes back in the tab's history without waiting for a `load`: a page restored from the
   * back/forward cache fires none (wait for what the test needs with {@link waitInPage}).
   */
  back(): Promise<void>;
}

/** One user's browser profile: its own cookies, its own SharedWorkers, locks and channels. */
export interface RigContext {
  newPage(): Promise<RigPage>;
  close(): Promise<void>;
}

export interface ContextOptions {
  /**
   * JavaScript run in every page of the context before the page's own scripts (e.g. deleting
   * `SharedWorker`). Engines whose driver cannot do so throw {@link RigUnsupported}.
   */
  readonly initScript?: string;
}

/** A running browser of one engine. */
export interface RigBrowser {
  readonly engine: Engine;
  /** The browser's own version string, e.g. `Firefox/140.5.0`. */
  readonly version: string;
  newContext(options?: ContextOptions): Promise<RigContext>;
  close(): Promise<void>;
}

/**
 * The reason to skip the tests of `engine`, or undefined when its browser (and driver) is here.
 * @throws under CI (test/helpers/ci.ts): CI must not pass by skipping.
 */
export function engineSkipReason(engine: Engine): string | undefined {
  const missing = toolMissing(engine);
  if (missing === undefined) return undefined;
  const tool = ENGINE_TOOLS[engine];
  return missingTool(tool.name, missing, tool.install);
}

/** Starts a browser of `engine`: headless, or under Xvfb where the engine has no headless mode. */
export function launchRig(engine: Engine): Promise<RigBrowser> {
  if (engine === 'chromium') return launchChromiumRig();
  if (engine === 'firefox') return launchFirefoxRig();
  return launchWebKitRig();
}

/**
 * Polls `fn(arg)` in the page every 50 ms until it is truthy; rejects naming `what` after
 * `timeoutMs`. Polled from here, not in the page: a background tab runs no frames or timers on
 * time, and a frozen one none at all.
 */
export async function waitInPage<A>(
  page: RigPage,
  fn: InPage<A, unknown>,
  arg: A,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let failure: unknown;
  for (;;) {
    try {
      if (await page.evaluate(fn, arg)) return;
    } catch (err) {
      // A page in the middle of a navigation has no document to run in yet.
      failure = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`not within ${timeoutMs} ms: ${what}`, { cause: failure });
    }
    await sleep(50);
  }
}
