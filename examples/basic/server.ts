/**
 * The Go eventrail's basic example as a fixed HTTP contract:
 *   GET /events?scope=<n>                               SSE for user 1 of scope n (routes scope:<n>:*)
 *   GET|POST /publish?scope=<n>&type=<type>&data=<json> publishes on scope:<n>:demo -> 202
 *   GET /metrics                                        Prometheus metrics (eventrail/metrics)
 * Runs on the in-memory broker, on Redis when REDIS_URL is set (REDIS_CHANNELS=sharded|pattern),
 * or on a Redis Cluster when REDIS_CLUSTER lists root nodes (host:port,...). TRACE=console prints
 * OpenTelemetry spans (a publish and each delivery, one trace) to stdout. WORKERS=auto runs one
 * process per core (see ../shared/workers.ts: the box's metrics and health on BOX_PORT).
 */
import { createServer } from 'node:http';
import { type Broker, createSseServer, EventrailError } from 'eventrail';
import { createMetrics } from 'eventrail/metrics';
import { Registry } from 'prom-client';
import { brokerEnvName, brokerFromEnv } from '../shared/broker-env.js';
import { lineLogger, oneLine } from '../shared/log.js';
import { startWorkers } from '../shared/workers.js';

// The metrics of this process (its own /metrics), and what it gives the box's scrape.
const registry = new Registry();
// With WORKERS > 1 this is where the primary stays; each worker goes on from here.
const member = await startWorkers(registry);

const port = Number(process.env.PORT ?? 3000);

// One short line per message; a Redis outage is reported when it starts, then every 30 s, then
// when it ends (refused logins are logged at debug, which this logger drops).
const logger = lineLogger('example');
function onError(error: Error): void {
  console.error(`[example] ${oneLine(error)}`);
}

const broker: Broker = brokerFromEnv(logger);

/** A scope id is a positive integer of at most 9 digits. */
function parseScope(value: string | null): number | undefined {
  const raw = value ?? '1';
  return /^[1-9][0-9]{0,8}$/.test(raw) ? Number(raw) : undefined;
}

// Loaded only when asked for: the SDK is the application's choice, not eventrail's.
const tracing =
  process.env.TRACE === 'console' ? (await import('./tracing.js')).consoleTracing() : undefined;

const metrics = createMetrics({ registry });
const shutdown = new AbortController();
const sse = createSseServer({
  broker,
  signal: shutdown.signal,
  eventNamePrefix: 'app',
  // Every client here is the same principal (user 1), and load tests open thousands of
  // streams: lift the per-principal cap (default 32 tabs) to the process cap. A real app
  // keeps the defaults.
  maxConnections: 50_000,
  maxConnectionsPerPrincipal: 50_000,
  resolver(request) {
    const scopeId = parseScope(request.url.searchParams.get('scope'));
    if (scopeId === undefined) throw new Error('scope must be a positive integer');
    return { userId: 1, scopeId };
  },
  router: (principal) => [`scope:${principal.scopeId}:*`],
  hooks: metrics.hooks,
  logger,
  tracing,
});
metrics.observe(sse);
member.observe(sse);

function dataParam(raw: string | null): unknown {
  if (raw === null) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

const http = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/events') {
    await sse.handler(req, res);
    return;
  }
  if (url.pathname === '/metrics' && req.method === 'GET') {
    res.writeHead(200, { 'Content-Type': registry.contentType }).end(await registry.metrics());
    return;
  }
  if (url.pathname === '/publish' && (req.method === 'GET' || req.method === 'POST')) {
    const scopeId = parseScope(url.searchParams.get('scope'));
    const reply = (status: number, body: unknown): void => {
      res
        .writeHead(status, { 'Content-Type': 'application/json' })
        .end(`${JSON.stringify(body)}\n`);
    };
    if (scopeId === undefined) return reply(400, { error: 'scope must be a positive integer' });
    const channel = `scope:${scopeId}:demo`;
    const eventType = url.searchParams.get('type') ?? 'demo.ping';
    try {
      await sse.publisher.publishEvent(channel, {
        eventType,
        data: dataParam(url.searchParams.get('data')),
      });
      return reply(202, { channel, eventType });
    } catch (err) {
      if (
        err instanceof EventrailError &&
        err.code !== 'broker-error' &&
        err.code !== 'broker-closed'
      ) {
        return reply(400, { error: err.message, code: err.code });
      }
      onError(err instanceof Error ? err : new Error(String(err)));
      return reply(503, { error: 'broker unavailable' });
    }
  }
  res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not Found\n');
});

http.listen(port, () => {
  const address = http.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  console.log(`eventrail basic example on http://localhost:${actual} (${brokerEnvName()} broker)`);
});

async function stop(): Promise<void> {
  shutdown.abort();
  await sse.close();
  await broker.close();
  http.close();
  http.closeAllConnections();
}
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
