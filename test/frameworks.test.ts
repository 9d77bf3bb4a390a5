/**
 * One suite, run against every framework example (examples/<name>/server.ts, spawned as
 * `npm run example:<name>` would) on the in-memory broker and on a real Redis, with a real
 * EventSource client: the HTTP contract of examples/basic, a client disconnect releasing its
 * connection and subscription, and a graceful SIGTERM.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { createMemoryBroker } from '../src/brokers/memory.js';
import { createSseServer } from '../src/index.js';
import { fastifyHandler } from '../src/integrations/fastify.js';
import { exampleContract } from './helpers/example-contract.js';
import { EXAMPLES, type Example, startExample } from './helpers/examples.js';
import { redisSkipReason } from './helpers/redis.js';
import { openRaw } from './helpers/sse.js';

function start(example: Example, env: Record<string, string>) {
  return startExample(`examples/${example}/server.ts`, env);
}

describe('framework examples, in-memory broker', { concurrency: 2 }, () => {
  for (const example of EXAMPLES) exampleContract(example, (env) => start(example, env), 'memory');
});

describe('framework examples, Redis broker', { concurrency: 2, skip: redisSkipReason() }, () => {
  for (const example of EXAMPLES) exampleContract(example, (env) => start(example, env), 'redis');
});

describe('eventrail/fastify', () => {
  it('sends the headers set on the reply before the hijack, except framing ones', async () => {
    const sse = createSseServer({
      broker: createMemoryBroker(),
      resolver: () => ({ userId: 1, scopeId: 1 }),
      router: (p) => [`scope:${p.scopeId}:*`],
    });
    const app = Fastify();
    try {
      app.addHook('onRequest', async (_request, reply) => {
        // What a CORS plugin does, plus a header a stream must never get.
        reply.header('access-control-allow-origin', 'https://app.example');
        reply.header('content-length', '5');
      });
      app.get('/events', fastifyHandler(sse));
      await app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = app.server.address() as AddressInfo;
      const stream = await openRaw(`http://127.0.0.1:${port}/events`);
      assert.equal(stream.status, 200);
      assert.equal(stream.headers.get('access-control-allow-origin'), 'https://app.example');
      assert.equal(stream.headers.get('content-length'), null);
      assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
      stream.abort();
    } finally {
      await sse.close();
      await app.close();
    }
  });
});
