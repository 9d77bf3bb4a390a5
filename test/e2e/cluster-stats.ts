/**
 * The shared-stream tests' view of a running demo cluster from outside the browser: the streams
 * each instance holds (its `GET /stats`), the sockets a browser holds to the proxy (from
 * `ss`), and changes made by a user without a browser.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { missingTool } from '../helpers/ci.js';
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

/** Why the socket count cannot run (no `ss`), or undefined; throws under CI. */
export function ssSkipReason(): string | undefined {
  if (spawnSync('ss', ['-V']).error === undefined) return undefined;
  return missingTool('ss', 'it is not on the PATH', 'Install it: apt-get install -y iproute2.');
}

/**
 * The browser's TCP connections to `port` on 127.0.0.1 that have carried a request (from `ss`):
 * Chromium may connect a socket ahead and never use it, which holds nothing.
 */
export function clientSockets(port: number): number {
  const out = execFileSync('ss', ['-tniH', 'state', 'established', 'dst', `127.0.0.1:${port}`], {
    encoding: 'utf8',
  });
  // One line per socket, its details on the next, indented.
  return out
    .replace(/\n\s+/g, ' ')
    .split('\n')
    .filter((line) => Number(/bytes_sent:(\d+)/.exec(line)?.[1] ?? 0) > 0).length;
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

/** Signs `user` in to gym 1 and adds a student, each on a socket of its own; the POST's status. */
export async function addStudentAs(base: string, user: string, name: string): Promise<number> {
  let login = await call(`${base}/login?user=${user}&gym=1`);
  // Right after an instance is killed, a request may still reach it and fail.
  for (let i = 0; i < 10 && login.status !== 303; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    login = await call(`${base}/login?user=${user}&gym=1`);
  }
  const cookie = String((login.headers['set-cookie'] as string[] | undefined)?.[0]).split(';')[0];
  const posted = await call(`${base}/students`, {
    method: 'POST',
    headers: {
      cookie: cookie ?? '',
      'content-type': 'application/x-www-form-urlencoded',
      'hx-request': 'true',
    },
    body: new URLSearchParams({ name }).toString(),
  });
  return posted.status;
}
