/**
 * The client as single files for pages without a bundler (scripts/bundle-client.ts, what
 * `npm run build` writes to dist/browser/): their gzipped sizes stay under a budget, each finds
 * the SharedWorker script beside itself, and plain pages in Chromium load the classic script, or
 * the modules as tsc emits them, and share their stream through the worker beside it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { gzipSync } from 'node:zlib';
import { transform } from 'esbuild';
import { createSseServer } from 'eventrail';
import { createMemoryBroker } from 'eventrail/memory';
import { bundleClient, GLOBAL_NAME, WORKER_FILE } from '../scripts/bundle-client.js';
import { chromiumSkipReason } from './e2e/browser.js';
import { type PageRig, startPageRig } from './e2e/page-rig.js';
import { waitFor } from './helpers/sse.js';

const CLIENT = fileURLToPath(new URL('../src/client/', import.meta.url));

/** Gzipped bytes each file may reach (the README states the sizes). */
const BUDGET: Record<string, number> = {
  'client.min.js': 5_500,
  'client.global.min.js': 5_600,
  [WORKER_FILE]: 2_200,
};

/** Globals a page would have, recording the SharedWorker the client asks for. */
function pageGlobals(workers: Array<{ url: string; type: string | undefined }>) {
  return {
    EventSource: class extends EventTarget {
      close(): void {}
    },
    SharedWorker: class {
      port = { postMessage() {}, start() {}, close() {}, onmessage: null };
      onerror = null;
      constructor(url: URL | string, options?: { type?: string }) {
        workers.push({ url: String(url), type: options?.type });
      }
    },
    document: Object.assign(new EventTarget(), {
      querySelectorAll: () => [],
      currentScript: { src: 'https://cdn.test/eventrail@1/dist/browser/client.global.min.js' },
    }),
    location: { href: 'https://app.test/', origin: 'https://app.test' },
  };
}

describe('the single-file client', () => {
  let files: Map<string, Uint8Array>;
  before(async () => {
    files = await bundleClient();
  });

  test('stays under its gzipped budget', () => {
    const sizes = [...files].map(
      ([file, bytes]) => [file, gzipSync(bytes, { level: 9 }).length] as const,
    );
    console.log(`# gzipped: ${sizes.map(([f, n]) => `${f} ${n} B`).join(', ')}`);
    assert.deepEqual(sizes.map(([f]) => f).sort(), Object.keys(BUDGET).sort());
    for (const [file, size] of sizes) {
      assert.ok(size <= (BUDGET[file] ?? 0), `${file}: ${size} B over ${BUDGET[file]} B`);
    }
  });

  test('the classic script defines its global and finds the worker beside its <script src>', () => {
    const workers: Array<{ url: string; type: string | undefined }> = [];
    const context = vm.createContext({
      ...pageGlobals(workers),
      URL,
      MessageEvent,
      Event,
      crypto,
      btoa,
    });
    vm.runInContext(Buffer.from(files.get('client.global.min.js') ?? '').toString(), context);
    const client = (
      context as Record<string, { connect: typeof import('eventrail/client').connect }>
    )[GLOBAL_NAME];
    assert.equal(typeof client?.connect, 'function');
    const connection = client?.connect({ url: '/events', share: true });
    assert.equal(connection?.sharing, 'worker');
    assert.deepEqual(workers, [
      { url: `https://cdn.test/eventrail@1/dist/browser/${WORKER_FILE}`, type: 'classic' },
    ]);
  });

  test('the ES module exports the client and finds the worker beside itself', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'eventrail-bundle-'));
    try {
      const file = path.join(dir, 'client.min.js');
      await writeFile(file, files.get('client.min.js') ?? new Uint8Array());
      const module = (await import(pathToFileURL(file).href)) as typeof import('eventrail/client');
      assert.equal(typeof module.connect, 'function');
      assert.equal(module.ORIGIN_EVENT, 'eventrail.origin');
      const workers: Array<{ url: string; type: string | undefined }> = [];
      const globals = pageGlobals(workers);
      Object.assign(globalThis, { SharedWorker: globals.SharedWorker });
      const connection = module.connect({
        url: 'https://app.test/events',
        share: true,
        root: globals.document,
        EventSource: globals.EventSource as unknown as typeof EventSource,
      });
      connection.close();
      assert.deepEqual(workers, [
        { url: pathToFileURL(path.join(dir, WORKER_FILE)).href, type: 'classic' },
      ]);
    } finally {
      delete (globalThis as { SharedWorker?: unknown }).SharedWorker;
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a page without a bundler, in Chromium', { skip: chromiumSkipReason() }, () => {
  let rig: PageRig | undefined;
  const sse = createSseServer({
    broker: createMemoryBroker(),
    resolver: () => ({ userId: 1, scopeId: 1 }),
    router: (principal) => [`gym:${principal.scopeId}:*`],
    eventNamePrefix: 'app',
  });
  const page = (script: string) => `<!doctype html><html><body>
<p id="list" data-eventrail-refresh="app.students.changed">0</p>
${script}
<script>
  const list = document.getElementById('list');
  list.addEventListener('eventrail:refresh', () => { list.textContent = String(Number(list.textContent) + 1); });
</script></body></html>`;
  const pages: Record<string, string> = {
    // The classic script, as a page without a bundler loads it.
    '/classic': page(`<script src="/static/client.global.min.js"></script>
<script>window.eventrail = eventrailClient.connect({ url: '/events', share: true });</script>`),
    // The modules as tsc emits them (dist/client/): the worker is worker.js beside them, a module.
    '/modules': page(`<script type="module">
  import { connect } from '/modules/index.js';
  window.eventrail = connect({ url: '/events', share: true });
</script>`),
  };

  before(async () => {
    const files = await bundleClient();
    const modules = new Map<string, string>();
    for (const file of await readdir(CLIENT)) {
      if (!file.endsWith('.ts')) continue;
      const source = await readFile(path.join(CLIENT, file), 'utf8');
      const { code } = await transform(source, { loader: 'ts', format: 'esm' });
      modules.set(`/modules/${file.replace(/\.ts$/, '.js')}`, code);
    }
    rig = await startPageRig((req, res) => {
      const url = req.url ?? '/';
      const script = files.get(url.replace('/static/', '')) ?? modules.get(url);
      if (url.startsWith('/events')) return void sse.handler(req, res);
      if (script) return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      res.writeHead(200, { 'content-type': 'text/html' }).end(pages[url] ?? '');
    });
  });
  after(async () => {
    await rig?.stop();
    await sse.close();
  });

  for (const [name, at] of [
    ['the classic script', '/classic'],
    ['the ES modules', '/modules'],
  ] as const) {
    test(`two tabs load ${name} and share one stream through its worker`, async () => {
      assert.ok(rig);
      await waitFor(() => sse.stats().connections === 0, 'no stream left open');
      const context = await rig.browser.newContext();
      const tabs = [await context.newPage(), await context.newPage()];
      for (const tab of tabs) await tab.goto(`${rig.base}${at}`);
      const client = (tab: (typeof tabs)[number]) =>
        tab.evaluate(() => {
          const e = (
            window as unknown as { eventrail: { state: string; sharing: string; tabs: number } }
          ).eventrail;
          return { state: e.state, sharing: e.sharing, tabs: e.tabs };
        });
      for (const tab of tabs) {
        // The worker counts a tab as it joins, before the stream it shares has opened: wait for both.
        await waitFor(
          async () => {
            const seen = await client(tab);
            return seen.tabs === 2 && seen.state === 'open';
          },
          'two tabs on an open stream',
          10_000,
        );
        assert.deepEqual(await client(tab), { state: 'open', sharing: 'worker', tabs: 2 });
      }
      assert.equal(sse.stats().connections, 1);
      await sse.publisher.publishType('gym:1:students', 'students.changed');
      for (const tab of tabs) {
        await waitFor(async () => (await tab.locator('#list').textContent()) === '1', 'a refresh');
      }
      await context.close();
    });
  }
});
