/** Real HTTP servers on port 0 mounting an SSE server the way users do, per framework. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import express from 'express';
import { createRedisBroker, type RedisBrokerOptions } from '../../src/brokers/redis.js';
import { type Broker, createSseServer, type SseServer } from '../../src/index.js';
import type { SseServerOptions } from '../../src/options.js';
import type { Principal } from '../../src/types.js';

export type Framework = 'node:http' | 'express' | 'fetch';
export const FRAMEWORKS: readonly Framework[] = ['node:http', 'express', 'fetch'];

/** A running app: its base URL, its SSE server, and a stop that closes everything. */
export interface RunningApp {
  readonly url: string;
  readonly sse: SseServer;
  readonly http: Server;
  stop(): Promise<void>;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
  });
}

/** Starts `framework` serving the SSE server at `/events`. */
export async function startApp<P extends Principal>(
  framework: Framework,
  options: SseServerOptions<P>,
): Promise<RunningApp> {
  const sse = createSseServer(options);
  let http: Server;
  if (framework === 'node:http') {
    http = createServer((req, res) => {
      if (req.url?.startsWith('/events')) void sse.handler(req, res);
      else res.writeHead(404).end();
    });
  } else if (framework === 'express') {
    const app = express();
    app.get('/events', sse.handler);
    app.post('/events', sse.handler);
    http = createServer(app);
  } else {
    http = serve({ fetch: sse.fetch, port: 0, hostname: '127.0.0.1', createServer }) as Server;
    await new Promise((resolve) =>
      http.listening ? resolve(undefined) : http.once('listening', resolve),
    );
  }
  const url =
    framework === 'fetch'
      ? `http://127.0.0.1:${(http.address() as AddressInfo).port}`
      : await listen(http);
  return {
    url,
    sse,
    http,
    async stop() {
      await sse.close();
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}

/** The principal of `?user=<id>&scope=<id>` (defaults 1 and 1); `?deny` makes the resolver throw. */
export interface TestPrincipal extends Principal {
  readonly routes: readonly string[] | undefined;
}

/** A resolver reading the test principal from the query string. */
export function queryResolver(request: { url: URL }): TestPrincipal {
  const q = request.url.searchParams;
  if (q.has('deny')) throw new Error('secret internal detail: token expired');
  const routes = q.getAll('route');
  return {
    userId: q.get('user') ?? '1',
    scopeId: q.get('scope') ?? '1',
    routes: routes.length ? routes : undefined,
  };
}

/** Routes from `?route=` when given, else the whole scope. */
export function queryRouter(principal: TestPrincipal): readonly string[] {
  return principal.routes ?? [`gym:${principal.scopeId}:*`];
}

/** An app on node:http with a Redis broker of its own, and a stop that closes the broker too. */
export interface RedisApp extends RunningApp {
  readonly broker: Broker;
}

/**
 * Starts a node:http app (query resolver and router) on a new Redis broker made from
 * `brokerOptions`; `stop()` closes the server, then the broker.
 */
export async function startRedisApp(
  brokerOptions: RedisBrokerOptions,
  options: Omit<SseServerOptions<TestPrincipal>, 'broker' | 'resolver' | 'router'> = {},
): Promise<RedisApp> {
  const broker = createRedisBroker(brokerOptions);
  const app = await startApp<TestPrincipal>('node:http', {
    broker,
    resolver: queryResolver,
    router: queryRouter,
    ...options,
  });
  return {
    ...app,
    broker,
    async stop() {
      await app.stop();
      await broker.close();
    },
  };
}
