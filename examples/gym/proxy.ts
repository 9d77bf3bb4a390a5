/**
 * A small round-robin reverse proxy: every request goes to the next instance, with no stickiness.
 * Streams pass through as they come (no buffering, no compression), so SSE works through it, and a
 * browser that goes away closes its upstream request too. An instance that refuses connections is
 * skipped for a few seconds, and a request it refused is retried on the next one (a refused
 * connection never received the request, so this is safe for a POST too, as nginx does), so that
 * stopping an instance sends its browsers and their form posts to the others.
 */
import {
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';

const DOWN_FOR_MS = 5_000;
/** Request bodies are read whole before forwarding (so a refused one can be retried); forms are small. */
const MAX_BODY_BYTES = 1024 * 1024;

// Hop-by-hop headers belong to one connection, not to the request.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
]);

function strip(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

/** Creates (does not start) the proxy in front of `upstreams` (`http://127.0.0.1:port` each). */
export function createRoundRobinProxy(upstreams: readonly URL[]): Server {
  if (upstreams.length === 0) throw new Error('the proxy needs at least one upstream');
  let next = 0;
  const downUntil = new Map<URL, number>();

  function pick(): URL {
    const now = Date.now();
    for (let i = 0; i < upstreams.length; i++) {
      const candidate = upstreams[next++ % upstreams.length] as URL;
      if ((downUntil.get(candidate) ?? 0) <= now) return candidate;
    }
    return upstreams[next++ % upstreams.length] as URL; // all down: try anyway
  }

  function forward(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer | undefined,
    attempt: number,
  ): void {
    const target = pick();
    const headers = strip(req.headers);
    headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
    headers['x-forwarded-host'] = req.headers.host ?? '';
    if (body !== undefined) headers['content-length'] = String(body.length);
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers,
        agent: false,
      },
      (answer) => {
        res.socket?.setNoDelay(true);
        res.writeHead(answer.statusCode ?? 502, strip(answer.headers));
        res.flushHeaders();
        // pipe() writes each chunk as it arrives: SSE events are not held back.
        answer.pipe(res);
        answer.on('error', () => res.destroy());
      },
    );
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') downUntil.set(target, Date.now() + DOWN_FOR_MS);
      if (res.headersSent || res.destroyed) return void res.destroy();
      if (err.code === 'ECONNREFUSED' && attempt + 1 < upstreams.length) {
        return forward(req, res, body, attempt + 1);
      }
      res.writeHead(502, { 'Content-Type': 'text/plain' }).end('Bad Gateway\n');
    });
    // The browser left (or the proxy is closing): the instance must see its stream end.
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.end(body);
  }

  return createServer((req, res) => {
    if (req.method === 'GET' || req.method === 'HEAD') return forward(req, res, undefined, 0);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        res.writeHead(413, { 'Content-Type': 'text/plain', Connection: 'close' });
        res.end('Payload Too Large\n');
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => forward(req, res, Buffer.concat(chunks), 0));
    req.on('error', () => res.destroy());
  });
}
