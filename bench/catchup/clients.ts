/**
 * Catch-up clients: raw HTTP/1.0 requests (the body is the bare stream, not chunked) that resume
 * with a Last-Event-ID and count whole SSE blocks (`\n\n`) until they have what they expect. Light
 * enough for thousands in the bench process: one socket and one counter each.
 */
import net from 'node:net';

const NL = 10;

/** A stream read to its first `blocks` SSE blocks; its body is kept only when `keep`. */
export interface Reading {
  readonly done: boolean;
  readonly body: Buffer;
}

/**
 * Opens `/events?scope=...` on `port` resuming from `lastEventId` and resolves once `blocks`
 * blocks arrived (`done`) or the server ended the stream first (cut). Closes the socket either way.
 */
export function readStream(
  port: number,
  path: string,
  lastEventId: string,
  blocks: number,
  keep = false,
  connected?: () => void,
): Promise<Reading> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, connected);
    socket.write(
      `GET ${path} HTTP/1.0\r\nHost: 127.0.0.1\r\nLast-Event-ID: ${lastEventId}\r\n\r\n`,
    );
    const kept: Buffer[] = [];
    let inBody = false;
    let seen = 0;
    let last = 0;
    let finished = false;
    const finish = (done: boolean): void => {
      if (finished) return;
      finished = true;
      socket.destroy();
      resolve({ done, body: Buffer.concat(kept) });
    };
    socket.on('data', (chunk: Buffer) => {
      let at = 0;
      if (!inBody) {
        const end = chunk.indexOf('\r\n\r\n');
        if (end < 0) return;
        inBody = true;
        at = end + 4;
      }
      if (keep) kept.push(chunk.subarray(at));
      // A block ends with an empty line: two line feeds in a row, maybe across two chunks.
      if (last === NL && chunk[at] === NL) {
        seen++;
        at++;
      }
      for (let i = chunk.indexOf(NL, at); i >= 0; i = chunk.indexOf(NL, i + 1)) {
        if (chunk[i + 1] === NL) {
          seen++;
          i++;
        }
      }
      last = chunk[chunk.length - 1] ?? 0;
      if (seen >= blocks) finish(true);
    });
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
  });
}

/** How a crowd of readers went. */
export interface CrowdResult {
  readonly clients: number;
  readonly done: number;
  readonly ms: number;
}

/**
 * `clients` readers at once (opened in batches of 500 connections, so the listen backlog is not
 * overrun), each until `blocks` blocks; the time from the first connect to the last block.
 */
export async function crowd(
  port: number,
  path: (client: number) => string,
  lastEventId: string,
  blocks: number,
  clients: number,
): Promise<CrowdResult> {
  const started = performance.now();
  const readings: Promise<Reading>[] = [];
  for (let i = 0; i < clients; i += 500) {
    const batch = Math.min(500, clients - i);
    let open = 0;
    await new Promise<void>((resolve) => {
      for (let j = 0; j < batch; j++) {
        readings.push(
          readStream(port, path(i + j), lastEventId, blocks, false, () => {
            if (++open === batch) resolve();
          }),
        );
      }
    });
  }
  const done = (await Promise.all(readings)).filter((r) => r.done).length;
  return { clients, done, ms: performance.now() - started };
}
