/**
 * `npm run demo:cluster`: two gym instances behind a round-robin proxy on PORT (default 3000),
 * sharing their Redis:
 *   REDIS_CLUSTER   host:port root nodes of a Redis Cluster (sharded channels; wins over REDIS_URL)
 *   REDIS_URL       one Redis (REDIS_CHANNELS=sharded|pattern)
 *   neither         one started (and stopped) here: a redis-server (DEMO_REDIS=single, the
 *                   default) or a Redis Cluster of six nodes (DEMO_REDIS=cluster)
 * Ctrl-C or SIGTERM stops everything.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { freePort, startLocalRedis, startLocalRedisCluster, stopChild } from './local-redis.js';
import { createRoundRobinProxy } from './proxy.js';

const INSTANCES = 2;
const port = Number(process.env.PORT ?? 3000);
const serverScript = fileURLToPath(new URL('./server.ts', import.meta.url));

function log(message: string): void {
  console.log(`[cluster] ${message}`);
}

async function waitUntilUp(url: URL, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`instance ${url.port} exited during start-up`);
    try {
      const answer = await fetch(new URL('/healthz', url));
      if (answer.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`instance on ${url.href} did not come up within 30 s`);
}

/** The Redis every instance uses, as the variable that names it (started here when none is). */
async function sharedRedis(): Promise<{ REDIS_CLUSTER: string } | { REDIS_URL: string }> {
  const { REDIS_CLUSTER, REDIS_URL, DEMO_REDIS = 'single' } = process.env;
  if (REDIS_CLUSTER) return { REDIS_CLUSTER };
  if (REDIS_URL) return { REDIS_URL };
  if (DEMO_REDIS === 'cluster') {
    const cluster = await startLocalRedisCluster();
    redis = cluster;
    log(`started a Redis Cluster (3 masters, 3 replicas) in ${cluster.dir} at ${cluster.nodes}`);
    return { REDIS_CLUSTER: cluster.nodes };
  }
  if (DEMO_REDIS !== 'single')
    throw new Error(`DEMO_REDIS must be single or cluster, not ${DEMO_REDIS}`);
  const single = await startLocalRedis();
  redis = single;
  log(`started redis-server at ${single.url}`);
  return { REDIS_URL: single.url };
}

// The instances get exactly one of REDIS_CLUSTER and REDIS_URL: the one sharedRedis() picked;
// each is one process (WORKERS is for `npm start`).
const { REDIS_CLUSTER: _cluster, REDIS_URL: _url, WORKERS: _workers, ...otherEnv } = process.env;

const children: ChildProcess[] = [];
let redis: { stop(): Promise<void> } | undefined;
let stopping = false;
let proxy: Server | undefined;

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    log('stopping');
    proxy?.close();
    proxy?.closeAllConnections();
    await Promise.all(children.map((child) => stopChild(child, 5_000)));
    await redis?.stop();
  }
  process.exit(code);
}
process.once('SIGINT', () => void stopAll(0));
process.once('SIGTERM', () => void stopAll(0));

try {
  const redisEnv = await sharedRedis();
  // One secret for all instances, so that any of them accepts a session another one signed.
  const secret = process.env.SESSION_SECRET || randomBytes(32).toString('base64url');
  const upstreams: URL[] = [];
  for (let i = 1; i <= INSTANCES; i++) {
    const instancePort = await freePort();
    const child = spawn(
      process.execPath,
      ['--conditions=eventrail-src', '--import', 'tsx', serverScript],
      {
        env: {
          ...otherEnv,
          PORT: String(instancePort),
          ...redisEnv,
          SESSION_SECRET: secret,
          INSTANCE_ID: `instance-${i}`,
        },
        // The IPC channel lets an instance notice when the cluster dies, even by SIGKILL.
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    children.push(child);
    child.once('exit', (code, signal) => {
      if (stopping) return;
      const alive = children.filter((c) => c.exitCode === null && c.signalCode === null);
      if (alive.length > 0) {
        log(`instance-${i} exited (${signal ?? code}); the proxy sends everyone to the others`);
        return;
      }
      log(`instance-${i} exited (${signal ?? code}), the last one: stopping the cluster`);
      void stopAll(1);
    });
    upstreams.push(new URL(`http://127.0.0.1:${instancePort}`));
  }
  await Promise.all(upstreams.map((url, i) => waitUntilUp(url, children[i] as ChildProcess)));
  const server = createRoundRobinProxy(upstreams);
  proxy = server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, resolve);
  });
  log(`demo cluster on http://localhost:${port} -> ${upstreams.map((u) => u.host).join(', ')}`);
  log('open it in two browsers (or a private window) as two users of the same gym');
} catch (err) {
  console.error('[cluster]', err instanceof Error ? err.message : err);
  await stopAll(1);
}
