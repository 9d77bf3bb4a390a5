/**
 * Socket.IO with @socket.io/redis-adapter, as its docs set it up; events come from the bench
 * through @socket.io/redis-emitter. Each client joins the room of its scope.
 */
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { Server } from 'socket.io';
import { redisUrl, scopeOf, serve } from './common.js';

const pub = createClient({ url: redisUrl() });
const sub = pub.duplicate();
await Promise.all([pub.connect(), sub.connect()]);

const server = createServer();
const io = new Server(server, {
  adapter: createAdapter(pub, sub),
  transports: ['websocket'],
  serveClient: false,
});
io.on('connection', (socket) => {
  const scope = scopeOf(`?scope=${String(socket.handshake.query.scope)}`);
  void socket.join(`scope:${scope}`);
});

serve(server);
