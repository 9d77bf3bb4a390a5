/**
 * `npm run bench:render [-- --calls 2000]`: the cost of `SseServer.lastEventId()`, the render
 * position a page asks for on every render, at 1 and 64 scopes per principal, on the memory broker
 * and on one Redis (pattern channels; the position read is the same script in both modes). Prints
 * µs per call (mean, p50, p99, calls made one after another) and, on Redis, the commands it cost
 * (INFO commandstats) and the writes the client made to Redis per call (through a counting TCP
 * proxy: one write per call means one round trip). Loopback only, bounded in count.
 */
import { createServer, connect as netConnect, type Server } from 'node:net';
import { performance } from 'node:perf_hooks';
import { startRedis } from '@eventrail/testkit/redis';
import { connectRaw } from '@eventrail/testkit/resp';
import { type Broker, createSseServer } from 'eventrail';
import { createMemoryBroker } from 'eventrail/memory';
import { createRedisBroker } from 'eventrail/redis';

const args = process.argv.slice(2);
const at = args.indexOf('--calls');
const CALLS = at >= 0 ? Number(args[at + 1]) : 2000;

/** A TCP proxy to `port` that counts the client's writes (data chunks toward Redis). */
async function countingProxy(
  port: number,
): Promise<{ port: number; writes(): number; close(): void }> {
  let writes = 0;
  const server: Server = createServer((client) => {
    const upstream = netConnect(port, '127.0.0.1');
    client.on('data', (chunk) => {
      writes++;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => {});
    upstream.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    writes: () => writes,
    close: () => server.close(),
  };
}

/** Calls of the commands a client sends for the history (FCALL, EVALSHA, EVAL), and of all. */
async function commandCounts(port: number): Promise<{ sent: number; all: number }> {
  const raw = await connectRaw(port);
  const info = String(await raw.command('INFO', 'commandstats'));
  await raw.close();
  let sent = 0;
  let all = 0;
  for (const match of info.matchAll(/cmdstat_([a-z|_-]+):calls=(\d+)/g)) {
    if (match[1] === 'info') continue;
    all += Number(match[2]);
    if (['fcall', 'evalsha', 'eval'].includes(match[1] as string)) sent += Number(match[2]);
  }
  return { sent, all };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

async function measure(
  label: string,
  broker: Broker,
  scopes: number,
  redis?: { port: number; writes(): number },
): Promise<void> {
  const sse = createSseServer({
    broker,
    resolver: () => ({ userId: 1, scopeId: 1 }),
    router: () => Array.from({ length: scopes }, (_, i) => `gym:${i + 1}:*`),
  });
  const principal = { userId: 1, scopeId: 1 };
  // Warm up: the history's code loaded, every scope's marker entry made.
  for (let i = 0; i < 50; i++) await sse.lastEventId(principal);
  const commandsBefore = redis ? await commandCounts(redis.port) : { sent: 0, all: 0 };
  const writesBefore = redis?.writes() ?? 0;
  const times: number[] = [];
  const calls = scopes === 1 ? CALLS : Math.max(100, Math.floor(CALLS / 4));
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    await sse.lastEventId(principal);
    times.push((performance.now() - start) * 1000);
  }
  const writes = redis ? (redis.writes() - writesBefore) / calls : 0;
  // The INFO calls themselves are left out.
  const after = redis ? await commandCounts(redis.port) : commandsBefore;
  const sent = (after.sent - commandsBefore.sent) / calls;
  const all = (after.all - commandsBefore.all) / calls;
  await sse.close();
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  const cost = redis
    ? `  ${sent.toFixed(1)} commands sent (${all.toFixed(1)} run in Redis), ${writes.toFixed(2)} writes/call`
    : '  no I/O';
  console.log(
    `${label.padEnd(16)} ${String(scopes).padStart(2)} scope${scopes === 1 ? ' ' : 's'}  ` +
      `${mean.toFixed(1).padStart(7)} µs mean  ${quantile(times, 0.5).toFixed(1).padStart(7)} p50  ` +
      `${quantile(times, 0.99).toFixed(1).padStart(7)} p99  (${calls} calls)${cost}`,
  );
}

console.log(
  `# SseServer.lastEventId(): cost per call, ${CALLS} calls at 1 scope, ${Math.max(100, Math.floor(CALLS / 4))} at 64`,
);
for (const scopes of [1, 64]) {
  const memory = createMemoryBroker();
  await measure('memory', memory, scopes);
  await memory.close();
}
const redis = await startRedis();
try {
  const proxy = await countingProxy(redis.port);
  for (const scopes of [1, 64]) {
    const broker = createRedisBroker({
      url: `redis://127.0.0.1:${proxy.port}`,
      probeIntervalMs: 0,
    });
    await measure('redis (loopback)', broker, scopes, { port: redis.port, writes: proxy.writes });
    await broker.close();
  }
  proxy.close();
} finally {
  await redis.stop();
}
