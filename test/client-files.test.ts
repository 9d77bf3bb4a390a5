/**
 * clientFiles(): the browser client's three files, served with a JavaScript content type, an ETag
 * and caching, on a real node:http server and through `fetch`; every other request left alone.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { clientFiles, isEventrailError } from 'eventrail';

const FILES = ['client.min.js', 'client.global.min.js', 'client.worker.min.js'];

describe('clientFiles()', () => {
  let dir = '';
  let server: Server;
  let base = '';

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'eventrail-files-'));
    for (const file of FILES) await writeFile(path.join(dir, file), `/* ${file} */`);
    const client = clientFiles({ dir });
    server = createServer(async (req, res) => {
      if (await client.handler(req, res)) return;
      res.writeHead(418).end('the app');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  test('serves each file as JavaScript with an ETag, an hour of caching, and 304 on a match', async () => {
    for (const file of FILES) {
      const response = await fetch(`${base}/eventrail/${file}?v=1`);
      assert.equal(response.status, 200, file);
      assert.equal(response.headers.get('content-type'), 'text/javascript; charset=utf-8');
      assert.equal(response.headers.get('cache-control'), 'public, max-age=3600');
      assert.equal(await response.text(), `/* ${file} */`);
      const etag = response.headers.get('etag') ?? '';
      assert.match(etag, /^"[\w-]+"$/);
      const again = await fetch(`${base}/eventrail/${file}`, {
        headers: { 'if-none-match': etag },
      });
      assert.equal(again.status, 304, file);
      assert.equal(await again.text(), '');
    }
    const head = await fetch(`${base}/eventrail/client.min.js`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String('/* client.min.js */'.length));
  });

  test('leaves every other request to the app', async () => {
    for (const [url, method] of [
      ['/eventrail/client.min.js', 'POST'],
      ['/eventrail/other.js', 'GET'],
      ['/eventrail/', 'GET'],
      ['/client.min.js', 'GET'],
      ['/eventrail/../package.json', 'GET'],
    ] as const) {
      const response = await fetch(`${base}${url}`, { method });
      assert.equal(response.status, 418, `${method} ${url}`);
      assert.equal(await response.text(), 'the app');
    }
  });

  test('answers fetch-style requests, under a path of its own', async () => {
    const client = clientFiles({ dir, path: '/assets/eventrail/' });
    const response = await client.fetch(
      new Request('http://app.test/assets/eventrail/client.min.js'),
    );
    assert.equal(response?.status, 200);
    assert.equal(response?.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(await response?.text(), '/* client.min.js */');
    assert.equal(
      await client.fetch(new Request('http://app.test/eventrail/client.min.js')),
      undefined,
    );
  });

  test('answers 404 when the files are not built, and refuses a path without its slashes', async () => {
    const missing = clientFiles({ dir: path.join(dir, 'nowhere') });
    const response = await missing.fetch(new Request('http://app.test/eventrail/client.min.js'));
    assert.equal(response?.status, 404);
    assert.match((await response?.text()) ?? '', /npm run build/);
    for (const bad of ['eventrail/', '/eventrail', '']) {
      assert.throws(
        () => clientFiles({ path: bad }),
        (error: unknown) => isEventrailError(error, 'invalid-option'),
        bad,
      );
    }
  });
});
