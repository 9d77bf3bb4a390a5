/**
 * The gym demo: `npm start` (PORT, default 3000).
 *
 * Without REDIS_URL or REDIS_CLUSTER it runs on the in-memory broker and store; with REDIS_URL
 * (one Redis; REDIS_CHANNELS=sharded|pattern) or REDIS_CLUSTER (host:port root nodes of a Redis
 * Cluster, sharded channels) both live in Redis, so several instances (see cluster.ts) serve the
 * same gyms. SESSION_SECRET signs the session cookies (the same on every instance); INSTANCE_ID
 * names this process in `x-instance`. WORKERS=auto (with REDIS_URL or REDIS_CLUSTER) runs one
 * process per core on PORT (see ../shared/workers.ts: the box's metrics and health on BOX_PORT).
 */
import { createServer } from 'node:http';
import os from 'node:os';
import { type Broker, createSseServer } from 'eventrail';
import { brokerEnvName, brokerFromEnv, redisFromEnv } from '../shared/broker-env.js';
import { lineLogger, oneLine, withoutPassword } from '../shared/log.js';
import { startWorkers } from '../shared/workers.js';
import { createApp } from './app.js';
import { loadAssets } from './assets.js';
import { parseGym, Sessions, sessionSecret } from './session.js';
import { createMemoryStore, type StudentStore } from './store.js';
import { createRedisStore } from './store-redis.js';

// With WORKERS > 1 this is where the primary stays; each worker goes on from here.
const member = await startWorkers();
const port = Number(process.env.PORT ?? 3000);
const redis = redisFromEnv();
const named = process.env.INSTANCE_ID;
const instance = (
  named ? (member.id > 0 ? `${named}-${member.id}` : named) : `${os.hostname()}-${process.pid}`
).replace(/[^A-Za-z0-9._-]/g, '_');

// eventrail logs one short line per message: a Redis outage when it starts, a reminder every
// 30 s, and when it ends; a request without a session (401) only at debug, which is dropped.
const logger = lineLogger(`gym ${instance}`);
function onError(error: Error): void {
  console.error(`[gym ${instance}] ${oneLine(error)}`);
}

const sessions = new Sessions(sessionSecret());
const broker: Broker = brokerFromEnv(logger, onError);
const store: StudentStore = redis ? await createRedisStore(redis, onError) : createMemoryStore();

const shutdown = new AbortController();
const sse = createSseServer({
  broker,
  signal: shutdown.signal,
  eventNamePrefix: 'app',
  headers: { 'x-instance': instance },
  resolver(request) {
    const session = sessions.read(request.headers.get('cookie'));
    if (session === undefined) throw new Error('no valid session cookie');
    return { userId: session.user, scopeId: session.gym };
  },
  router: (principal) => {
    const gym = parseGym(String(principal.scopeId));
    if (gym === undefined) throw new Error(`bad gym ${String(principal.scopeId)}`);
    return [`gym:${gym}:*`];
  },
  logger,
  // Who is in the gym: every page gets eventrail.presence when someone arrives or leaves.
  presence: { events: true, intervalMs: 5000, debounceMs: 250 },
});
member.observe(sse);

/**
 * For the start-up line: `Redis, pattern channels, redis://...` or `Redis Cluster, redis://...,...`,
 * each URL without its password.
 */
function storage(): string {
  if (redis === undefined) return 'in-memory broker and store';
  const where = 'cluster' in redis ? redis.cluster.rootNodes.map(({ url }) => url) : [redis.url];
  return `${brokerEnvName()}, ${where.map(withoutPassword).join(',')}`;
}

const http = createServer(
  createApp({ instance, sse, store, sessions, assets: await loadAssets(), onError }),
);

http.listen(port, () => {
  const address = http.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  console.log(
    `[gym ${instance}] listening on http://localhost:${actual} (pid ${process.pid}, ${storage()})`,
  );
});

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`[gym ${instance}] ${signal}: shutting down`);
  // Whatever hangs, the process ends within 5 s.
  setTimeout(() => process.exit(1), 5_000).unref();
  http.close();
  shutdown.abort();
  await sse.close(); // ends every open stream
  http.closeIdleConnections();
  await broker.close();
  await store.close();
}
process.once('SIGTERM', () => void stop('SIGTERM'));
process.once('SIGINT', () => void stop('SIGINT'));
// Started by cluster.ts with an IPC channel: when the cluster is gone, so is this instance. The
// channel itself must not keep the process alive once everything else has closed.
if (process.channel !== undefined) {
  process.channel.unref();
  process.once('disconnect', () => void stop('cluster gone'));
}
