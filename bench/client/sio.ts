/** The Socket.IO load client: socket.io-client over WebSocket only, one Manager per connection. */
import { io } from 'socket.io-client';
import { EVENT_TYPE, nowUs, type Tick } from '../protocol.js';
import type { Conn, ConnEvents, Driver } from './types.js';

export const openSio: Driver = (port, scope, events: ConnEvents): Conn => {
  let opened = false;
  let done = false;
  const socket = io(`http://127.0.0.1:${port}`, {
    transports: ['websocket'],
    query: { scope: String(scope) },
    forceNew: true,
    reconnection: false,
    timeout: 30_000,
  });
  socket.on('connect', () => {
    opened = true;
    events.open();
  });
  socket.on('connect_error', (err: Error) => {
    if (done) return;
    done = true;
    events.fail(err.message);
  });
  socket.on('disconnect', () => {
    if (done || !opened) return;
    done = true;
    events.ended();
  });
  socket.on(EVENT_TYPE, (tick: Tick) => {
    events.frames(1);
    events.tick(tick.s, tick.t, nowUs());
  });
  return {
    close() {
      done = true;
      socket.disconnect();
    },
  };
};
