/**
 * eventrail on Fastify, with the HTTP contract of examples/basic (see examples/README.md).
 * `fastifyHandler` (eventrail/fastify) hijacks the reply and hands `reply.raw` to `sse.handler`.
 */
import { fastifyHandler } from 'eventrail/fastify';
import Fastify from 'fastify';
import { createDemo } from '../shared/contract.js';

const demo = createDemo('fastify');
// On shutdown the streams have ended already: close every connection, not only the idle ones (a
// stream that just ended may not count as idle yet, and would hold close() for the keep-alive
// timeout, 72 s).
const app = Fastify({ forceCloseConnections: true });

app.all('/events', fastifyHandler(demo.sse));

// /publish reads only its query string: accept (and ignore) a body of any type, as basic does.
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => done(null));
app.all('/publish', async (request, reply) => {
  const { status, body } = await demo.publish(request.method, request.url);
  return reply.code(status).send(body);
});
app.get('/stats', async () => demo.stats());

await app.listen({ port: demo.port, host: '::' });
demo.listening(app.server);
demo.onShutdown(() => app.close());
