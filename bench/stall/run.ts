/**
 * `npm run bench:stall [-- --seconds 30 --policy coalesce]`: one client stops reading for the
 * whole run while 20 healthy clients receive a steady 50 events/s of ~8 KB. Prints, per 5 s window,
 * the server's memory after GC and the healthy clients' publish-to-receive latency, once with the
 * stalled client and once without (the baseline), and the ratios. Loopback only, bounded in time.
 */

import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
};
const SECONDS = Number(arg('seconds', '30'));
const POLICY = arg('policy', 'coalesce');
const HEALTHY = 20;
const RATE = 50;

function quantile(sorted: number[], q: number): number {
  return sorted.length
    ? (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0)
    : 0;
}

function stream(port: number, onEvent: ((t: number) => void) | undefined): Socket {
  const socket = connect(port, '127.0.0.1');
  socket.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n');
  let buffer = '';
  socket.on('data', (chunk) => {
    if (!onEvent) return;
    buffer += chunk.toString('latin1');
    let at = buffer.indexOf('"t":');
    while (at >= 0) {
      const end = buffer.indexOf(',', at);
      if (end < 0) break;
      onEvent(Date.now() - Number(buffer.slice(at + 4, end)));
      buffer = buffer.slice(end);
      at = buffer.indexOf('"t":');
    }
    if (buffer.length > 1 << 16) buffer = buffer.slice(-1024);
  });
  socket.on('error', () => {});
  return socket;
}

async function run(stalled: boolean) {
  const child = spawn(
    process.execPath,
    [
      '--expose-gc',
      '--conditions=eventrail-src',
      '--import',
      'tsx',
      fileURLToPath(new URL('server.ts', import.meta.url)),
      POLICY,
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const port = await new Promise<number>((resolve) =>
    child.stdout.once('data', (d) => resolve(Number(String(d).trim()))),
  );
  const base = `http://127.0.0.1:${port}`;
  let window: number[] = [];
  const sockets = Array.from({ length: HEALTHY }, () => stream(port, (ms) => window.push(ms)));
  const slow = stalled ? stream(port, undefined) : undefined;
  slow?.once('data', () => slow.pause());
  await sleep(500);
  const rows: Array<{ second: number; rssMb: number; heapMb: number; p50: number; p99: number }> =
    [];
  const stop = Date.now() + SECONDS * 1000;
  const publisher = (async () => {
    while (Date.now() < stop) {
      const r = await fetch(`${base}/publish?size=8000`);
      await r.arrayBuffer();
      await sleep(1000 / RATE);
    }
  })();
  for (let second = 5; second <= SECONDS; second += 5) {
    await sleep(5000);
    const mem = (await (await fetch(`${base}/memory`)).json()) as { rss: number; heapUsed: number };
    const sorted = window.sort((a, b) => a - b);
    window = [];
    rows.push({
      second,
      rssMb: mem.rss / 2 ** 20,
      heapMb: mem.heapUsed / 2 ** 20,
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
    });
  }
  await publisher;
  const stats = (await (await fetch(`${base}/memory`)).json()) as {
    connections: number;
    dropped: number;
  };
  for (const s of sockets) s.destroy();
  slow?.destroy();
  child.kill('SIGTERM');
  return { rows, stats };
}

const fmt = (n: number): string => n.toFixed(1);
const results = { baseline: await run(false), stalled: await run(true) };
console.log(
  `\n## One client stalled for ${SECONDS} s (policy ${POLICY}), ${HEALTHY} healthy clients, ${RATE} events/s of ~8 KB\n`,
);
console.log(
  '| run | second | RSS MB | heap MB | p50 ms | p99 ms |\n| --- | --- | --- | --- | --- | --- |',
);
for (const [name, { rows }] of Object.entries(results)) {
  for (const r of rows)
    console.log(
      `| ${name} | ${r.second} | ${fmt(r.rssMb)} | ${fmt(r.heapMb)} | ${fmt(r.p50)} | ${fmt(r.p99)} |`,
    );
}
const s = results.stalled.rows;
const b = results.baseline.rows;
const first = s[0];
const last = s[s.length - 1];
const p99 = (rows: typeof s) => rows.reduce((m, r) => Math.max(m, r.p99), 0);
if (first && last) {
  console.log(
    `\nheap growth while stalled, first to last window: ${fmt(last.heapMb - first.heapMb)} MB`,
  );
  console.log(
    `worst p99 with the stalled client / without: ${fmt(p99(s))} / ${fmt(p99(b))} ms = ${(p99(s) / Math.max(0.1, p99(b))).toFixed(2)}x`,
  );
}
console.log(
  `stalled run: connections at the end ${results.stalled.stats.connections}, events dropped/merged for the stalled client ${results.stalled.stats.dropped}`,
);
