/** Debian's Chromium for the end-to-end tests, driven by playwright-core. */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let warned = false;

/**
 * The reason to skip the browser tests, or undefined when Chromium is there.
 * @throws when Chromium is missing and `CI=true`: CI must not pass by skipping.
 */
export function chromiumSkipReason(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  if (process.env.CI === 'true') {
    throw new Error(
      `Chromium is required when CI=true, but ${CHROMIUM_PATH} does not exist. ` +
        'Install it (`apt-get update && apt-get install -y chromium`) or set CHROMIUM_PATH.',
    );
  }
  if (!warned) {
    warned = true;
    process.stderr.write(
      `\n!!! SKIPPING browser tests: no Chromium at ${CHROMIUM_PATH} !!!\n` +
        '!!! apt-get install -y chromium (or set CHROMIUM_PATH); under CI=true this is a failure. !!!\n\n',
    );
  }
  return `no Chromium at ${CHROMIUM_PATH}`;
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
