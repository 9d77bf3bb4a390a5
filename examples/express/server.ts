/**
 * eventrail on Express, with the HTTP contract of examples/basic (see examples/README.md).
 * `sse.handler` is an Express handler as it is: no glue needed.
 */
import { createServer } from 'node:http';
import express from 'express';
import { createDemo } from '../shared/contract.js';

const demo = createDemo('express');
const app = express();

app.all('/events', demo.sse.handler);

app.all('/publish', async (req, res) => {
  const { status, body } = await demo.publish(req.method, req.originalUrl);
  res.status(status).json(body);
});
app.get('/stats', (_req, res) => {
  res.json(demo.stats());
});

demo.listen(createServer(app));
