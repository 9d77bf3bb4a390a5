/**
 * The HTTP contract of examples/basic, shared by every framework example so that each one shows
 * only how its framework mounts eventrail:
 *   GET /events?scope=<n>                               SSE for user 1 of scope n (routes scope:<n>:*)
 *   GET|POST /publish?scope=<n>&type=<type>&data=<json> publishes on scope:<n>:demo -> 202
 *   GET /stats                                          {"connections":n,"hubs":n} (not in basic)
 * Environment: PORT (default 3000; 0 picks a free port), REDIS_URL / REDIS_CHANNELS / REDIS_CLUSTER
 * (the broker: see broker-env.ts; in-memory without them),
 * HUB_IDLE_TIMEOUT_MS (optional: how long a scope's subscription outlives its last client),
 * HEARTBEAT_MS (optional: the heartbeat's period, default 30 s),
 * WORKERS (default 1; `auto` runs one process per core: see workers.ts).
 */
import type { Server } from 'node:net';
import { type Broker, createSseServer, EventrailError, type SseServer } from 'eventrail';
import { brokerEnvName, brokerFromEnv } from './broker-env.js';
import { lineLogger, oneLine } from './log.js';
import { startWorkers } from './workers.js';

/** Every status `publish` answers with. */
export type DemoStatus = 202 | 400 | 404 | 503;

/** A JSON answer for the framework to send. */
export interface DemoReply {
  readonly status: DemoStatus;
  readonly body: Readonly<Record<string, string>>;
}

/** What `GET /stats` answers. */
export interface DemoStats {
  readonly connections: number;
  readonly hubs: number;
}

/** One example's eventrail server plus the contract's handlers, for any framework to mount. */
export interface Demo {
  /** Mount `sse.handler` (node:http) or `sse.fetch` (Web) on `/events`, for every method. */
  readonly sse: SseServer;
  /** `PORT`, default 3000. */
  readonly port: number;
  /** `/publish` for any method (`url` may be a path or absolute): 404 unless GET or POST. */
  publish(method: string, url: string): Promise<DemoReply>;
  /** `GET /stats`. */
  stats(): DemoStats;
  /** Listens on `port`, prints the URL, and closes `server` on shutdown. */
  listen(server: Server): void;
  /** Prints `http://localhost:<port>` once `server` listens (the tests wait for that line). */
  listening(server: Server): void;
  /** On SIGTERM or SIGINT: ends every stream, closes the broker, then `closeHttp()`. */
  onShutdown(closeHttp: () => unknown): void;
}

// With WORKERS > 1 the primary stays here, so the example that imports this module never starts a
// server in it; each worker goes on.
const member = await startWorkers();

// One short line per message; a Redis outage is reported when it starts, then every 30 s, then
// when it ends (refused logins are logged at debug, which this logger drops).
const logger = lineLogger('example');
function onError(error: Error): void {
  console.error(`[example] ${oneLine(error)}`);
}

/** A scope id is a positive integer of at most 9 digits. */
function parseScope(value: string | null): number | undefined {
  const raw = value ?? '1';
  return /^[1-9][0-9]{0,8}$/.test(raw) ? Number(raw) : undefined;
}

/** `data` as JSON when it parses, else as the string it is. */
function dataParam(raw: string | null): unknown {
  if (raw === null) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    // Idle keep-alive sockets would hold close() open; the streams are already over.
    if ('closeAllConnections' in server && typeof server.closeAllConnections === 'function')
      server.closeAllConnections();
  });
}

/** Creates the broker and the SSE server of the contract; `framework` only names the example. */
export function createDemo(framework: string): Demo {
  const port = Number(process.env.PORT ?? 3000);
  const idle = process.env.HUB_IDLE_TIMEOUT_MS;
  const heartbeat = process.env.HEARTBEAT_MS;
  const broker: Broker = brokerFromEnv(logger);
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
    ...(idle ? { hubIdleTimeoutMs: Number(idle) } : {}),
    ...(heartbeat ? { heartbeatMs: Number(heartbeat) } : {}),
    resolver(request) {
      const scopeId = parseScope(request.url.searchParams.get('scope'));
      if (scopeId === undefined) throw new Error('scope must be a positive integer');
      return { userId: 1, scopeId };
    },
    router: (principal) => [`scope:${principal.scopeId}:*`],
    logger,
  });
  member.observe(sse);

  async function publish(method: string, url: string): Promise<DemoReply> {
    if (method !== 'GET' && method !== 'POST') return { status: 404, body: { error: 'Not Found' } };
    const query = new URL(url, 'http://localhost').searchParams;
    const scopeId = parseScope(query.get('scope'));
    if (scopeId === undefined)
      return { status: 400, body: { error: 'scope must be a positive integer' } };
    const channel = `scope:${scopeId}:demo`;
    const eventType = query.get('type') ?? 'demo.ping';
    try {
      await sse.publisher.publishEvent(channel, { eventType, data: dataParam(query.get('data')) });
      return { status: 202, body: { channel, eventType } };
    } catch (err) {
      if (
        err instanceof EventrailError &&
        err.code !== 'broker-error' &&
        err.code !== 'broker-closed'
      ) {
        return { status: 400, body: { error: err.message, code: err.code } };
      }
      onError(err instanceof Error ? err : new Error(String(err)));
      return { status: 503, body: { error: 'broker unavailable' } };
    }
  }

  function listening(server: Server): void {
    const address = server.address();
    const actual = typeof address === 'object' && address ? address.port : port;
    console.log(
      `eventrail ${framework} example on http://localhost:${actual} (${brokerEnvName()} broker)`,
    );
  }

  function onShutdown(closeHttp: () => unknown): void {
    const stop = async (): Promise<void> => {
      shutdown.abort();
      await sse.close();
      await broker.close();
      await closeHttp();
    };
    process.once('SIGTERM', () => void stop());
    process.once('SIGINT', () => void stop());
  }

  return {
    sse,
    port,
    publish,
    stats() {
      const { connections, hubs } = sse.stats();
      return { connections, hubs };
    },
    listen(server) {
      server.listen(port, () => listening(server));
      onShutdown(() => closeServer(server));
    },
    listening,
    onShutdown,
  };
}
