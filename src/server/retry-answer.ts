import type { HeaderRecord, Transport } from '../adapters/transport.js';
import { formatRetry } from '../wire/sse-format.js';

/**
 * Ends a request with only a `retry:` (and maybe a comment): `200` and the end of the stream, so
 * that the browser comes back later, maybe to another instance. A browser's EventSource stops for
 * good on any other status, so this is how a request that should be retried is refused.
 */
export function answerRetry<R>(
  transport: Transport<R>,
  headers: HeaderRecord,
  chunk: Uint8Array,
): R {
  const { sink, result } = transport.open(headers, chunk, undefined);
  sink.end();
  return result;
}

/** `retry: base + random(0..jitter)`, so that browsers told to come back do not all come at once. */
export function jitteredRetry(baseMs: number, jitterMs: number, comment?: string): Buffer {
  const retry = formatRetry(baseMs + Math.floor(Math.random() * (jitterMs + 1)));
  return Buffer.from(comment === undefined ? retry : `: ${comment}\n${retry}`);
}
