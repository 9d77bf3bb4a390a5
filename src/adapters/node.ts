import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { SseRequest } from '../types.js';
import type { HeaderRecord, Sink, StreamEvents, Transport } from './transport.js';

/** A node:http request, or node:http2's compatibility request. */
export type NodeRequest = IncomingMessage | Http2ServerRequest;
/** A node:http response, or node:http2's compatibility response. */
export type NodeResponse = ServerResponse | Http2ServerResponse;

function toHeaders(req: NodeRequest): Headers {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    try {
      headers.append(raw[i] as string, raw[i + 1] as string);
    } catch {
      // node:http accepts some header bytes the Headers class refuses; such a header is dropped.
    }
  }
  return headers;
}

function toUrl(req: NodeRequest): URL {
  // HTTP/2 sends the host as :authority, never as Host.
  const authority = req.headers[':authority'];
  const host =
    (typeof authority === 'string' ? authority : undefined) ?? req.headers.host ?? 'localhost';
  const secure = 'encrypted' in req.socket && req.socket.encrypted === true;
  try {
    return new URL(req.url ?? '/', `${secure ? 'https' : 'http'}://${host}`);
  } catch {
    // A Host header that is no host: keep the path, drop the host.
    return new URL(req.url ?? '/', 'http://localhost');
  }
}

/** The request as the resolver sees it. */
export function nodeRequest(req: NodeRequest): SseRequest {
  let url: URL | undefined;
  let headers: Headers | undefined;
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    // Built on first use: most resolvers read one cookie or header.
    get url() {
      url ??= toUrl(req);
      return url;
    },
    get headers() {
      headers ??= toHeaders(req);
      return headers;
    },
    raw: req,
  };
}

/** Where a request and its response find their transport (no closure per stream). */
const TRANSPORT = Symbol('eventrail.transport');

interface Tagged {
  [TRANSPORT]?: NodeTransport;
}

// Shared listeners: node calls them with the emitter as `this`.
function onGone(this: Tagged): void {
  this[TRANSPORT]?.gone();
}

function onDrain(this: Tagged): void {
  this[TRANSPORT]?.events?.drained();
}

/**
 * A transport over node:http's `(req, res)`, as Express, Koa (`ctx.req/res`) and Fastify
 * (`reply.raw`) expose it, and over node:http2's compatibility API. It is its own sink, and holds
 * no closure: an open stream costs this one small object on top of node's own.
 */
class NodeTransport implements Transport<void>, Sink {
  aborted = false;
  events: StreamEvents | undefined;

  constructor(
    private readonly req: NodeRequest,
    private readonly res: NodeResponse,
  ) {
    (res as Tagged)[TRANSPORT] = this;
    (req as Tagged)[TRANSPORT] = this;
    res.on('close', onGone);
    req.on('error', onGone);
    if (res.destroyed || req.destroyed) this.aborted = true;
  }

  /** The peer went away (the response closed, the request failed). */
  gone(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.events?.peerClosed();
  }

  header(name: string): string | null {
    const value = this.req.headers[name];
    if (value === undefined) return null;
    return typeof value === 'string' ? value : value.join(', ');
  }

  query(name: string): string | null {
    const url = this.req.url ?? '';
    const start = url.indexOf('?');
    // Most requests carry no such parameter: no parse at all then.
    if (start < 0 || !url.includes(name, start)) return null;
    return new URLSearchParams(url.slice(start + 1)).get(name);
  }

  reject(status: number, headers: HeaderRecord, body: string): void {
    const { res } = this;
    if (res.headersSent || res.destroyed) return;
    const out = res as ServerResponse;
    out.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
    out.end(body);
  }

  open(headers: HeaderRecord, first: Uint8Array, events: StreamEvents | undefined) {
    // Over HTTP/1 the socket is this stream's alone: events must not wait for Nagle, and it never
    // times out on its own. Over HTTP/2 the socket is the whole session's: leave it alone.
    if (this.req.httpVersionMajor < 2) {
      const socket = this.res.socket;
      socket?.setNoDelay(true);
      socket?.setTimeout(0);
    }
    this.events = events;
    // One response type for both versions: they share every member used here.
    const out = this.res as ServerResponse;
    if (events) out.on('drain', onDrain);
    out.writeHead(200, headers);
    // Headers and the first bytes leave together, at once.
    out.write(first);
    flattenSentHead(out);
    return { sink: this, result: undefined };
  }

  write(chunk: Uint8Array): boolean {
    return (this.res as ServerResponse).write(chunk);
  }

  end(): void {
    this.res.end();
  }

  destroy(): void {
    this.res.destroy();
  }

  buffered(): number {
    return this.res.writableLength;
  }
}

/**
 * node:http keeps a response's head for as long as the response lives (`headersSent` reads it),
 * as the rope of strings it was built from: about two dozen pieces for a stream's head, some
 * 0.5 KB of heap per open stream. Reading one of its characters makes V8 flatten the rope in
 * place into one string of the same content. Nothing is changed; a runtime or a version of Node
 * without the field (node:http2, Bun, Deno) is left alone.
 */
function flattenSentHead(res: ServerResponse): void {
  const head: unknown = (res as unknown as { _header?: unknown })._header;
  if (typeof head === 'string' && head.length > 0) head.charCodeAt(head.length - 1);
}

/** A transport over node:http's or node:http2's `(req, res)`. */
export function nodeTransport(req: NodeRequest, res: NodeResponse): Transport<void> {
  return new NodeTransport(req, res);
}
