/**
 * eventrail on plain node:http, with the HTTP contract of examples/basic (see examples/README.md).
 * `sse.handler` takes node:http's (req, res) as they are.
 */
import { createServer, type ServerResponse } from 'node:http';
import { createDemo } from '../shared/contract.js';

const demo = createDemo('node-http');

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
}

const server = createServer(async (req, res) => {
  const { pathname } = new URL(req.url ?? '/', 'http://localhost');
  if (pathname === '/events') return demo.sse.handler(req, res);
  if (pathname === '/publish') {
    const { status, body } = await demo.publish(req.method ?? 'GET', req.url ?? '/');
    return json(res, status, body);
  }
  if (pathname === '/stats' && req.method === 'GET') return json(res, 200, demo.stats());
  res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not Found\n');
});

demo.listen(server);
