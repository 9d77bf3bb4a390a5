/**
 * The demo cluster's round-robin proxy (examples/gym/proxy.ts): a request an instance refuses goes
 * to the next one, a form POST included (a refused connection never received it), and the body
 * arrives whole.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { createRoundRobinProxy } from '../examples/gym/proxy.js';
import { findFreePort } from './helpers/redis.js';

const servers: Server[] = [];
after(() => {
  for (const server of servers) server.close();
});

async function listen(server: Server): Promise<URL> {
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

/** An upstream that answers with the method, path and body it received. */
function echo(): Server {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('x-instance', 'live');
      res.end(`${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`);
    });
  });
}

test('a refused instance is skipped for GET and POST alike, and the body arrives whole', async () => {
  const dead = new URL(`http://127.0.0.1:${await findFreePort()}`); // nothing listens there
  const live = await listen(echo());
  const proxy = await listen(createRoundRobinProxy([dead, live]));
  const body = `name=${'x'.repeat(100_000)}`;
  for (let i = 0; i < 4; i++) {
    // Round robin starts on `dead` half of the time; every request must still reach `live`.
    const posted = await fetch(new URL('/students', proxy), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    assert.equal(posted.status, 200);
    assert.equal(await posted.text(), `POST /students ${body}`);
    const got = await fetch(new URL('/list?x=1', proxy));
    assert.equal(got.status, 200);
    assert.equal(await got.text(), 'GET /list?x=1 ');
  }
});

test('with every instance refusing, the proxy answers 502', async () => {
  const proxy = await listen(
    createRoundRobinProxy([
      new URL(`http://127.0.0.1:${await findFreePort()}`),
      new URL(`http://127.0.0.1:${await findFreePort()}`),
    ]),
  );
  const posted = await fetch(new URL('/students', proxy), { method: 'POST', body: 'name=a' });
  assert.equal(posted.status, 502);
  await posted.text();
});
