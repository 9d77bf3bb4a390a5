/**
 * SSE read straight from a socket's bytes, as the bench's load clients read it (client/sse.ts,
 * storm/clients.ts): the markers they search for and the numbers they read, with no parser.
 */

/** The end of the HTTP response head. */
export const HEAD_END = Buffer.from('\r\n\r\n');
/** The end of an SSE frame (chunked-encoding size lines never hold one). */
export const FRAME_END = Buffer.from('\n\n');
/** The bench's event data: `"s":` before the sequence number, `"t":` before the publish time (µs). */
export const SEQ = Buffer.from('"s":');
export const TIME = Buffer.from('"t":');

/** The unsigned integer at `at`, or -1. */
export function digits(buf: Buffer, at: number): number {
  let n = -1;
  for (let i = at; i < buf.length; i++) {
    const c = buf[i] as number;
    if (c < 48 || c > 57) break;
    n = (n < 0 ? 0 : n * 10) + (c - 48);
  }
  return n;
}

/** The status code of a response head that starts `HTTP/1.x NNN`. */
export function statusOf(head: Buffer): string {
  return head.toString('latin1', 9, 12);
}
