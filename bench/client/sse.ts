/**
 * The SSE load client: a raw TCP socket, an HTTP/1.1 GET, and the least parsing that works. Frames
 * are counted by their `\n\n` end (chunked-encoding size lines never hold one), and `"s":` and
 * `"t":` are read as digits straight from the bytes.
 */
import net from 'node:net';
import { nowUs } from '../protocol.js';
import { digits, FRAME_END, HEAD_END, SEQ, statusOf, TIME } from './sse-bytes.js';
import type { Conn, ConnEvents, Driver } from './types.js';

/** The worker's own loopback source address (see startWorkers), or the system's choice. */
const localAddress = process.env.BENCH_SOURCE_ADDRESS;

export const openSse: Driver = (port, scope, events: ConnEvents): Conn => {
  const socket = net.connect({ port, host: '127.0.0.1', ...(localAddress && { localAddress }) });
  socket.setNoDelay(true);
  let head = true;
  let done = false;
  let carry: Buffer | null = null;
  socket.write(
    `GET /events?scope=${scope} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`,
  );
  socket.on('data', (chunk: Buffer) => {
    events.bytes(chunk.length);
    let buf = carry === null ? chunk : Buffer.concat([carry, chunk]);
    carry = null;
    let at = 0;
    if (head) {
      const end = buf.indexOf(HEAD_END);
      if (end < 0) {
        carry = buf;
        return;
      }
      const status = statusOf(buf);
      if (status !== '200') {
        done = true;
        events.fail(`HTTP ${status}`);
        socket.destroy();
        return;
      }
      head = false;
      events.open();
      at = end + 4;
    }
    const now = nowUs();
    let frames = 0;
    for (;;) {
      const end = buf.indexOf(FRAME_END, at);
      if (end < 0) break;
      frames++;
      const s = buf.indexOf(SEQ, at);
      if (s >= 0 && s < end) {
        const t = buf.indexOf(TIME, s);
        events.tick(digits(buf, s + 4), t >= 0 && t < end ? digits(buf, t + 4) : now, now);
      }
      at = end + 2;
    }
    if (frames > 0) events.frames(frames);
    if (at < buf.length) carry = buf.subarray(at);
    buf = chunk; // let the concatenated copy go
  });
  const finish = (reason: string): void => {
    if (done) return;
    done = true;
    if (head) events.fail(reason);
    else events.ended();
  };
  socket.on('error', (err) => finish(err.message));
  socket.on('close', () => finish('closed'));
  return {
    close() {
      done = true;
      socket.destroy();
    },
  };
};
