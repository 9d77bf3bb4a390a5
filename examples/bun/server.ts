/**
 * eventrail on Bun's own server (`Bun.serve`), with the HTTP contract of examples/basic (see
 * examples/README.md):
 *   bun --conditions=eventrail-src examples/bun/server.ts
 * `Bun.serve` closes a connection after `idleTimeout` seconds without a byte (10 s by default):
 * `sse.fetch(request, server)` lifts it for each stream, so the heartbeat (30 s) keeps it open.
 * On Bun, node:http (examples/node-http) runs as it is.
 */
import { brokerEnvName } from '../shared/broker-env.js';
import { createDemo } from '../shared/contract.js';
import { fetchRoutes } from '../shared/fetch-routes.js';

/** The part of Bun's `Server` used here (Bun's own types are not a dependency of eventrail). */
interface BunServer {
  readonly port: number;
  timeout(request: Request, seconds: number): void;
  stop(closeActiveConnections?: boolean): Promise<void>;
}
declare const Bun: {
  serve(options: {
    port: number;
    fetch(request: Request, server: BunServer): Promise<Response>;
  }): BunServer;
};

const demo = createDemo('bun');
const server = Bun.serve({
  port: demo.port,
  fetch: fetchRoutes(demo, (request, bun: BunServer) => demo.sse.fetch(request, bun)),
});
console.log(`eventrail bun example on http://localhost:${server.port} (${brokerEnvName()} broker)`);
demo.onShutdown(() => server.stop());
