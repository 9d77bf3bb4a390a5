import type { SseRequest } from '../types.js';
import type { HeaderRecord, StreamEvents, Transport } from './transport.js';

/** Bytes a fetch stream may hold unread before it counts as congested (node's mark too). */
const STREAM_HIGH_WATER_MARK = 16 * 1024;

/** The request as the resolver sees it. */
export function fetchRequest(request: Request): SseRequest {
  return {
    method: request.method.toUpperCase(),
    url: new URL(request.url),
    headers: request.headers,
    raw: request,
  };
}

/** A transport that answers with a Web `Response` (Hono, Deno-style and any fetch server). */
export function fetchTransport(request: Request): Transport<Response> {
  let aborted = false;
  let events: StreamEvents | undefined;
  const abort = (): void => {
    if (aborted) return;
    aborted = true;
    events?.peerClosed();
  };
  if (request.signal.aborted) abort();
  else request.signal.addEventListener('abort', abort, { once: true });
  return {
    get aborted() {
      return aborted;
    },
    header: (name) => request.headers.get(name),
    query(name) {
      return request.url.includes(name) ? new URL(request.url).searchParams.get(name) : null;
    },
    reject(status: number, headers: HeaderRecord, body: string) {
      // 204 and friends may carry no body at all.
      const text = status === 204 ? null : body;
      return new Response(text, {
        status,
        headers: { ...headers, 'Content-Type': 'text/plain; charset=utf-8' },
      });
    },
    open(headers: HeaderRecord, first: Uint8Array, target: StreamEvents | undefined) {
      events = target;
      let stream!: ReadableStreamDefaultController<Uint8Array>;
      let done = false;
      const body = new ReadableStream<Uint8Array>(
        {
          start(c) {
            stream = c;
            c.enqueue(first);
          },
          pull() {
            events?.drained();
          },
          cancel() {
            done = true;
            abort();
          },
        },
        { highWaterMark: STREAM_HIGH_WATER_MARK, size: (chunk) => chunk.byteLength },
      );
      return {
        sink: {
          write(chunk: Uint8Array) {
            if (done) return false;
            stream.enqueue(chunk);
            return (stream.desiredSize ?? 0) > 0;
          },
          end() {
            if (done) return;
            done = true;
            stream.close();
          },
          buffered() {
            return STREAM_HIGH_WATER_MARK - (stream.desiredSize ?? STREAM_HIGH_WATER_MARK);
          },
          destroy() {
            if (done) return;
            done = true;
            stream.error(new Error('eventrail: stream closed'));
          },
        },
        result: new Response(body, { status: 200, headers }),
      };
    },
  };
}
