/** A page test's parts: a node:http server on port 0 for the page and its streams, and Chromium. */
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { launchChromium } from './browser.js';

export interface PageRig {
  /** `http://127.0.0.1:<port>` */
  readonly base: string;
  readonly browser: Browser;
  /** Closes the browser, then the server and every connection it still has. */
  stop(): Promise<void>;
}

export async function startPageRig(handler: RequestListener): Promise<PageRig> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const browser = await launchChromium().catch((err: unknown) => {
    server.close();
    throw err;
  });
  return {
    base,
    browser,
    async stop() {
      await browser.close().catch(() => {});
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
