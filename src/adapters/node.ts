import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SseRequest } from '../types.js';
import type { HeaderRecord, Transport } from './transport.js';

function toHeaders(req: IncomingMessage): Headers {
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

function toUrl(req: IncomingMessage): URL {
  const host = req.headers.host ?? 'localhost';
  const secure = 'encrypted' in req.socket && req.socket.encrypted === true;
  try {
    return new URL(req.url ?? '/', `${secure ? 'https' : 'http'}://${host}`);
  } catch {
    // A Host header that is no host: keep the path, drop the host.
    return new URL(req.url ?? '/', 'http://localhost');
  }
}

/** The request as the resolver sees it. */
export function nodeRequest(req: IncomingMessage): SseRequest {
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

/** A transport over node:http's `(req, res)`, as Express, Koa (`ctx.req/res`) and Fastify (`reply.raw`) expose it. */
export function nodeTransport(req: IncomingMessage, res: ServerResponse): Transport<void> {
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  res.once('close', abort);
  req.once('error', abort);
  if (res.destroyed || req.destroyed) controller.abort();
  return {
    signal: controller.signal,
    reject(status: number, headers: HeaderRecord, body: string) {
      if (res.headersSent || res.destroyed) return;
      res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(body);
    },
    open(headers: HeaderRecord, first: Uint8Array, onDrain: () => void) {
      const socket = res.socket;
      // Events must not wait for Nagle; an SSE socket never times out on its own.
      socket?.setNoDelay(true);
      socket?.setTimeout(0);
      res.on('drain', onDrain);
      res.writeHead(200, headers);
      // Headers and the first bytes leave together, at once.
      res.write(first);
      return {
        sink: {
          write: (chunk: Uint8Array) => res.write(chunk),
          end: () => res.end(),
          destroy: () => res.destroy(),
        },
        result: undefined,
      };
    },
  };
}
