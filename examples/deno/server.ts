/**
 * eventrail on Deno's own server (`Deno.serve`), with the HTTP contract of examples/basic (see
 * examples/README.md):
 *   deno run -A --sloppy-imports --conditions=eventrail-src examples/deno/server.ts
 * (`--sloppy-imports` lets Deno read this repository's `.js` imports of `.ts` files; an app
 * importing the built package needs neither flag.) `Deno.serve` has no idle timeout on a
 * streaming response, so `sse.fetch(request)` is all it takes. On Deno, node:http
 * (examples/node-http) runs as it is.
 */
import { brokerEnvName } from '../shared/broker-env.js';
import { createDemo } from '../shared/contract.js';
import { fetchRoutes } from '../shared/fetch-routes.js';

/** The part of Deno's API used here (Deno's own types are not a dependency of eventrail). */
declare const Deno: {
  serve(
    options: { port: number; onListen(address: { port: number }): void },
    handler: (request: Request, info: unknown) => Promise<Response>,
  ): { shutdown(): Promise<void> };
};

const demo = createDemo('deno');
const server = Deno.serve(
  {
    port: demo.port,
    onListen: ({ port }) =>
      console.log(`eventrail deno example on http://localhost:${port} (${brokerEnvName()} broker)`),
  },
  fetchRoutes(demo, (request) => demo.sse.fetch(request)),
);
demo.onShutdown(() => server.shutdown());
