/**
 * The browser client's single files (`npm run build` writes them to dist/browser/), served from
 * the installed package for pages without a bundler: `<script type="module">` imports
 * `/eventrail/client.min.js`, and `connect({ share: true })` finds the worker beside it.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { NodeRequest, NodeResponse } from '../adapters/node.js';
import { EventrailError } from '../errors.js';

/** The files served, by name: the module, the classic script, the SharedWorker script. */
const FILES = ['client.min.js', 'client.global.min.js', 'client.worker.min.js'] as const;

/** Options of {@link clientFiles}. @public */
export interface ClientFilesOptions {
  /** The URL path the files are served under, with its slashes. @defaultValue `'/eventrail/'` */
  readonly path?: string | undefined;
  /**
   * The folder holding the files. @defaultValue the package's own `dist/browser/`, where the
   * published package has them
   */
  readonly dir?: string | URL | undefined;
}

/**
 * Serves `client.min.js`, `client.global.min.js` and `client.worker.min.js` under one path.
 * Each answers `GET` and `HEAD` of its own path only; anything else is left to your app.
 * @public
 */
export interface ClientFiles {
  /**
   * For node:http (and Express, Koa's `ctx.req`/`ctx.res`, ...): answers a request for one of the
   * files and resolves `true`, or resolves `false` without touching any other request.
   */
  readonly handler: (req: NodeRequest, res: NodeResponse) => Promise<boolean>;
  /** For fetch-style servers: the file's `Response`, or `undefined` for any other request. */
  readonly fetch: (request: Request) => Promise<Response | undefined>;
}

/** One file's answer: its bytes and the headers that go with them. */
interface Served {
  readonly body: Buffer;
  readonly etag: string;
}

/** An hour in a browser's cache, then a cheap revalidation (304) against the ETag. */
const CACHE_CONTROL = 'public, max-age=3600';
const CONTENT_TYPE = 'text/javascript; charset=utf-8';

/** What to answer for a method, a URL path and an `If-None-Match`: status, headers, body. */
type Answer = { status: number; headers: Record<string, string>; body: Buffer | undefined };

/**
 * Serves the browser client's files from the installed package, with a JavaScript content type,
 * an ETag and an hour of caching.
 *
 * @example
 * ```ts
 * const client = clientFiles(); // /eventrail/client.min.js, ... beside it
 * createServer(async (req, res) => {
 *   if (await client.handler(req, res)) return;
 *   // ... your app
 * });
 * ```
 * @throws {@link EventrailError} `invalid-option` when `path` does not start and end with `/`.
 * @public
 */
export function clientFiles(options: ClientFilesOptions = {}): ClientFiles {
  const base = options.path ?? '/eventrail/';
  if (typeof base !== 'string' || !base.startsWith('/') || !base.endsWith('/')) {
    throw new EventrailError(
      'invalid-option',
      'path must start and end with "/", e.g. "/eventrail/".',
    );
  }
  const dir = options.dir ?? new URL('../../dist/browser/', import.meta.url);
  const folder = typeof dir === 'string' ? pathToFileURL(dir.endsWith('/') ? dir : `${dir}/`) : dir;
  const loaded = new Map<string, Promise<Served | undefined>>();

  const load = (file: string): Promise<Served | undefined> => {
    let served = loaded.get(file);
    if (served === undefined) {
      served = readFile(new URL(file, folder)).then(
        (body) => ({
          body,
          etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
        }),
        () => undefined,
      );
      loaded.set(file, served);
    }
    return served;
  };

  const answer = async (
    method: string | undefined,
    url: string,
    ifNoneMatch: string | null | undefined,
  ): Promise<Answer | undefined> => {
    if (method !== 'GET' && method !== 'HEAD') return undefined;
    const pathname = url.split(/[?#]/, 1)[0] ?? '';
    if (!pathname.startsWith(base)) return undefined;
    const file = FILES.find((name) => pathname === `${base}${name}`);
    if (file === undefined) return undefined;
    const served = await load(file);
    if (served === undefined) {
      const text = `eventrail: ${file} is not in ${fileURLToPath(folder)} (npm run build writes it)\n`;
      return {
        status: 404,
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body: Buffer.from(text),
      };
    }
    const headers = { 'cache-control': CACHE_CONTROL, etag: served.etag };
    if (ifNoneMatch === served.etag) return { status: 304, headers, body: undefined };
    const body = method === 'HEAD' ? undefined : served.body;
    return {
      status: 200,
      headers: {
        ...headers,
        'content-type': CONTENT_TYPE,
        'content-length': String(served.body.length),
      },
      body,
    };
  };

  return {
    async handler(req, res) {
      const found = await answer(
        req.method,
        req.url ?? '',
        req.headers['if-none-match']?.toString(),
      );
      if (found === undefined) return false;
      res.writeHead(found.status, found.headers);
      if (found.body === undefined) res.end();
      else res.end(found.body);
      return true;
    },
    async fetch(request) {
      const found = await answer(
        request.method,
        new URL(request.url).pathname,
        request.headers.get('if-none-match'),
      );
      if (found === undefined) return undefined;
      return new Response(found.body === undefined ? null : new Uint8Array(found.body), {
        status: found.status,
        headers: found.headers,
      });
    },
  };
}
