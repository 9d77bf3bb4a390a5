/**
 * eventrail on Hono (served by @hono/node-server), with the HTTP contract of examples/basic (see
 * examples/README.md). `honoHandler` (eventrail/hono) answers with `sse.fetch`'s streaming Response.
 */
import { createAdaptorServer } from '@hono/node-server';
import { honoHandler } from 'eventrail/hono';
import { Hono } from 'hono';
import { createDemo } from '../shared/contract.js';

const demo = createDemo('hono');
const app = new Hono();

app.all('/events', honoHandler(demo.sse));

app.all('/publish', async (c) => {
  const { status, body } = await demo.publish(c.req.method, c.req.url);
  return c.json(body, status);
});
app.get('/stats', (c) => c.json(demo.stats()));

demo.listen(createAdaptorServer({ fetch: app.fetch }));
