/**
 * The server side of the stalled-client proof: one eventrail server (memory broker) whose policy
 * comes from argv, with /publish stamping the time and /memory reporting after a GC.
 * Run by bench/stall/run.ts with --expose-gc.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type BackpressurePolicy, createSseServer } from 'eventrail';
import { createMemoryBroker } from 'eventrail/memory';

const policy = (process.argv[2] ?? 'coalesce') as BackpressurePolicy;
const sse = createSseServer({
  broker: createMemoryBroker(),
  resolver: () => ({ userId: 1, scopeId: 1 }),
  router: () => ['bench:1:*'],
  backpressure: policy,
  maxConnectionsPerPrincipal: 10_000,
  maxPayloadBytes: 1 << 20,
});
const gc = (globalThis as { gc?: () => void }).gc;

const http = createServer((req, res) => {
  if (req.url === '/events') return void sse.handler(req, res);
  if (req.url?.startsWith('/publish')) {
    const size = Number(new URL(req.url, 'http://x').searchParams.get('size') ?? 0);
    void sse.publisher
      .publishEvent('bench:1:t', {
        eventType: 'tick',
        data: { t: Date.now(), pad: 'x'.repeat(size) },
      })
      .then(() => res.writeHead(202).end());
    return;
  }
  if (req.url === '/memory') {
    gc?.();
    const { rss, heapUsed } = process.memoryUsage();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ rss, heapUsed, ...sse.stats() }));
    return;
  }
  res.writeHead(404).end();
});
http.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(http.address() as AddressInfo).port}\n`);
});
process.once('SIGTERM', () => {
  void sse.close().then(() => {
    http.closeAllConnections();
    http.close();
  });
});
