/**
 * What the shared-stream tests count on a running demo cluster: the streams each instance holds
 * (its `GET /stats`) and the sockets a browser holds to the proxy (from /proc/net/tcp).
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import type { DemoCluster } from './cluster.js';

/** One HTTP/1.1 request on a socket of its own, closed after the answer. */
export function call(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (resolve, reject) => {
      const req = request(
        url,
        { method: init.method ?? 'GET', headers: init.headers, agent: false },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            body += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      req.on('error', reject);
      req.end(init.body);
    },
  );
}

/** Established TCP connections to `port` on 127.0.0.1, counted from their client side. */
export function clientSockets(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .filter((line) => {
      const [, , remote, state] = line.trim().split(/\s+/);
      return remote === `0100007F:${hexPort}` && state === '01';
    }).length;
}

/** The instances' own ports, from the lines they print when they start. */
function instancePorts(cluster: DemoCluster): Map<string, number> {
  const ports = new Map<string, number>();
  for (const match of cluster
    .output()
    .matchAll(/\[gym (instance-\d)\] listening on http:\/\/localhost:(\d+)/g)) {
    ports.set(match[1] ?? '', Number(match[2]));
  }
  return ports;
}

/** Open streams per instance (`GET /stats` of each live one). */
export async function connections(cluster: DemoCluster, dead: ReadonlySet<string> = new Set()) {
  const counts = new Map<string, number>();
  for (const [instance, port] of instancePorts(cluster)) {
    if (dead.has(instance)) continue;
    const answer = await call(`http://127.0.0.1:${port}/stats`);
    counts.set(instance, (JSON.parse(answer.body) as { connections: number }).connections);
  }
  return counts;
}

export const total = (counts: Map<string, number>) =>
  [...counts.values()].reduce((a, b) => a + b, 0);
