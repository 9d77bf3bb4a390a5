/** Debian's Chromium for the end-to-end tests, driven by playwright-core. */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { missingTool } from '../helpers/ci.js';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * The reason to skip the browser tests, or undefined when Chromium is there.
 * @throws when Chromium is missing under CI (see `isCi`): CI must not pass by skipping.
 */
export function chromiumSkipReason(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  return missingTool(
    'Chromium',
    `no Chromium at ${CHROMIUM_PATH}`,
    'Install it (`apt-get update && apt-get install -y chromium`) or set CHROMIUM_PATH.',
  );
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    timeout: 30_000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-sync',
      '--disable-component-update',
      '--disable-quic',
    ],
  });
}
