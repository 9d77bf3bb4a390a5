/**
 * Bytes on the wire without a client library in between: HTTP/1.1 requests written to a plain
 * socket (so that nothing normalises or refuses what a hostile client would send), and Redis
 * PUBLISH of arbitrary bytes (node-redis and the RESP helper would encode strings as UTF-8).
 */
import net from 'node:net';
import { createParser } from 'eventsource-parser';

/** What came back on a raw HTTP socket. */
export interface RawHttpResponse {
  /** The status code, or undefined when the server closed or stalled without answering. */
  readonly status: number | undefined;
  /** Everything received, decoded as latin1 (so every byte shows). */
  readonly text: string;
}

/** True once `text` holds a whole response (or, for a stream, its first event). */
function complete(text: string, noBody: boolean): boolean {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const head = text.slice(0, end).toLowerCase();
  const body = text.slice(end + 4);
  if (noBody || /^http\/1\.\d (1\d\d|204|304)/.test(head)) return true;
  const length = /\r\ncontent-length: *(\d+)/.exec(head)?.[1];
  if (length !== undefined) return Buffer.byteLength(body, 'latin1') >= Number(length);
  return body.includes('0\r\n\r\n') || body.includes('eventrail.connected');
}

/**
 * Writes `request` on a fresh socket to 127.0.0.1:`port` and reads until a whole response (or the
 * first event of a stream) arrived, the server closed, or `timeoutMs` passed; then destroys it.
 * `noBody`: the request was HEAD, so the response ends with its headers.
 */
export function rawHttp(
  port: number,
  request: Buffer,
  noBody = false,
  timeoutMs = 1500,
): Promise<RawHttpResponse> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let text = '';
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const status = /^HTTP\/1\.\d (\d{3})/.exec(text)?.[1];
      resolve({ status: status === undefined ? undefined : Number(status), text });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (complete(text, noBody)) finish();
    });
    socket.on('error', finish);
    socket.on('close', finish);
    socket.write(request);
  });
}

/** A connection that PUBLISHes arbitrary bytes and counts the replies. */
export interface BytePublisher {
  /** Resolves with the number of receivers Redis reported. */
  publish(channel: string | Buffer, payload: Buffer): Promise<number>;
  close(): void;
}

const bulk = (value: Buffer): Buffer[] => [
  Buffer.from(`$${value.length}\r\n`),
  value,
  Buffer.from('\r\n'),
];

/** Opens a raw RESP connection for {@link BytePublisher}. */
export async function connectBytePublisher(port: number): Promise<BytePublisher> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const waiting: Array<{ resolve: (n: number) => void; reject: (e: Error) => void }> = [];
  let pending = '';
  socket.on('data', (chunk: Buffer) => {
    pending += chunk.toString('latin1');
    for (let end = pending.indexOf('\r\n'); end >= 0; end = pending.indexOf('\r\n')) {
      const line = pending.slice(0, end);
      pending = pending.slice(end + 2);
      const waiter = waiting.shift();
      if (line.startsWith(':')) waiter?.resolve(Number(line.slice(1)));
      else waiter?.reject(new Error(`Redis answered ${line}`));
    }
  });
  socket.on('error', (err) => {
    for (const waiter of waiting.splice(0)) waiter.reject(err);
  });
  return {
    publish(channel, payload) {
      const name = typeof channel === 'string' ? Buffer.from(channel) : channel;
      return new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        socket.write(
          Buffer.concat([
            Buffer.from('*3\r\n'),
            ...bulk(Buffer.from('PUBLISH')),
            ...bulk(name),
            ...bulk(payload),
          ]),
        );
      });
    },
    close: () => void socket.destroy(),
  };
}

/** One event of a {@link rawEventStream}. */
export interface RawStreamEvent {
  readonly event: string;
  readonly data: string;
  readonly id: string | undefined;
}

/** A stream read off a plain socket; `ended` resolves when the socket closes. */
export interface RawEventStream {
  /** Resolves when the socket is connected (or has failed). */
  readonly connected: Promise<void>;
  readonly ended: Promise<void>;
  close(): void;
}

/**
 * Opens `path` on 127.0.0.1:`port` with an HTTP/1.0 request (so the body is the bare stream, not
 * chunked) and hands each event to `onEvent` as it arrives. Light enough for thousands at once:
 * one socket and one parser each, nothing kept.
 */
export function rawEventStream(
  port: number,
  path: string,
  headers: Readonly<Record<string, string>>,
  onEvent: (event: RawStreamEvent) => void,
): RawEventStream {
  const socket = net.connect({ port, host: '127.0.0.1' });
  const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.write(`GET ${path} HTTP/1.0\r\nHost: 127.0.0.1\r\n${head.join('')}\r\n`);
  socket.setEncoding('utf8');
  const parser = createParser({
    onEvent: (e) => onEvent({ event: e.event ?? 'message', data: e.data, id: e.id }),
  });
  let inBody = false;
  let pending = '';
  socket.on('data', (text: string) => {
    if (inBody) {
      parser.feed(text);
      return;
    }
    pending += text;
    const end = pending.indexOf('\r\n\r\n');
    if (end < 0) return;
    inBody = true;
    parser.feed(pending.slice(end + 4));
    pending = '';
  });
  const ended = new Promise<void>((resolve) => {
    socket.on('close', () => resolve());
    socket.on('error', () => {});
  });
  const connected = new Promise<void>((resolve) => {
    socket.once('connect', () => resolve());
    socket.once('close', () => resolve());
  });
  return { connected, ended, close: () => void socket.destroy() };
}
