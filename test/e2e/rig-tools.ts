/** Where each engine's browser and driver are, and how to install them (Debian's packages). */
import { existsSync } from 'node:fs';
import { CHROMIUM_PATH } from './browser.js';

/** The engines the end-to-end tests run in. */
export type Engine = 'chromium' | 'firefox' | 'webkit';
export const ENGINES: readonly Engine[] = ['chromium', 'firefox', 'webkit'];

export const FIREFOX_PATH = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';
export const WEBKIT_DRIVER_PATH = process.env.WEBKIT_DRIVER_PATH ?? '/usr/bin/WebKitWebDriver';
export const XVFB_RUN_PATH = '/usr/bin/xvfb-run';

export const ENGINE_TOOLS: Record<Engine, { name: string; install: string }> = {
  chromium: {
    name: 'Chromium',
    install: 'Install it (`apt-get update && apt-get install -y chromium`) or set CHROMIUM_PATH.',
  },
  firefox: {
    name: 'Firefox',
    install: 'Install it (`apt-get update && apt-get install -y firefox-esr`) or set FIREFOX_PATH.',
  },
  webkit: {
    name: 'WebKit',
    install:
      "Install WebKitGTK's driver and Xvfb (`apt-get update && apt-get install -y webkit2gtk-driver xvfb`) or set WEBKIT_DRIVER_PATH.",
  },
};

/** What is missing for `engine`, or undefined. */
export function toolMissing(engine: Engine): string | undefined {
  if (engine === 'chromium') {
    return existsSync(CHROMIUM_PATH) ? undefined : `no Chromium at ${CHROMIUM_PATH}`;
  }
  if (engine === 'firefox') {
    return existsSync(FIREFOX_PATH) ? undefined : `no Firefox at ${FIREFOX_PATH}`;
  }
  if (!existsSync(WEBKIT_DRIVER_PATH)) return `no WebKitWebDriver at ${WEBKIT_DRIVER_PATH}`;
  return existsSync(XVFB_RUN_PATH) ? undefined : `no xvfb-run at ${XVFB_RUN_PATH}`;
}

/** What an engine's driver cannot do here (a test skips that part and says so). */
export class RigUnsupported extends Error {
  override readonly name = 'RigUnsupported';
}

/**
 * The expression that runs `fn(arg)` in a page. tsx compiles with esbuild's `keepNames`, which
 * wraps inner functions in `__name(...)`: the page gets a `__name` that does nothing.
 */
export function inPageSource(fn: (arg: never) => unknown, arg: unknown): string {
  return `(() => { const __name = (f) => f; return (${fn.toString()})(${JSON.stringify(arg)}); })()`;
}
