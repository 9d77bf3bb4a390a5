/**
 * Static files of the demo, loaded once at startup: htmx from node_modules (no CDN), the stylesheet,
 * and the browser client as an app without a bundler serves it: the single-file builds of
 * `eventrail/client` (`npm run build` writes them to dist/browser/; the demo builds the same files
 * in memory from src/client, so that `npm start` needs no build step), under /assets/eventrail/.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { bundleClient } from '../../scripts/bundle-client.js';

/** A file ready to serve. */
export interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

const JS = 'text/javascript; charset=utf-8';

/** Every asset by URL path. */
export async function loadAssets(): Promise<Map<string, Asset>> {
  const require = createRequire(import.meta.url);
  const assets = new Map<string, Asset>();
  // client.min.js, client.global.min.js and, beside them, the SharedWorker's client.worker.min.js.
  for (const [file, bytes] of await bundleClient()) {
    assets.set(`/assets/eventrail/${file}`, { body: Buffer.from(bytes), type: JS });
  }
  // One stable URL for pages that import the module.
  assets.set('/assets/eventrail-client.js', {
    body: Buffer.from("export * from './eventrail/client.min.js';\n"),
    type: JS,
  });
  assets.set('/assets/htmx.min.js', {
    body: await readFile(require.resolve('htmx.org/dist/htmx.min.js')),
    type: JS,
  });
  assets.set('/assets/gym.css', {
    body: await readFile(new URL('./public/gym.css', import.meta.url)),
    type: 'text/css; charset=utf-8',
  });
  return assets;
}
