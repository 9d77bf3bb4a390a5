/** Small node:http helpers of the demo. */
import type { IncomingMessage, ServerResponse } from 'node:http';

const MAX_BODY = 16 * 1024;

/** Thrown by {@link readForm}; carries the status to answer. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Reads an `application/x-www-form-urlencoded` body (what forms and htmx send). */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type && type !== 'application/x-www-form-urlencoded') {
    throw new HttpError(415, 'Send the form as application/x-www-form-urlencoded.');
  }
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, 'The form is too large.');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** Answers with a complete body. */
export function send(
  res: ServerResponse,
  status: number,
  body: string | Buffer,
  type = 'text/html; charset=utf-8',
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': String(Buffer.byteLength(body)),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(body);
}

/** 303 See Other to `location`, optionally setting a cookie. */
export function seeOther(res: ServerResponse, location: string, cookie?: string): void {
  const headers: Record<string, string> = { Location: location, 'Content-Length': '0' };
  if (cookie !== undefined) headers['Set-Cookie'] = cookie;
  res.writeHead(303, headers).end();
}
