/** A client that sends its request and then stops reading: its socket buffers fill up. */
import { connect, type Socket } from 'node:net';
import type { Entry } from './gaps.js';

export interface StalledClient {
  readonly socket: Socket;
  /** What arrived before the client stopped reading. */
  received(): string;
}

export async function stalledClient(url: string, path = '/events?scope=1'): Promise<StalledClient> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let text = '';
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.on('error', () => {});
  // Returns once the first chunk (the response head) was read and the socket paused: a caller that
  // later listens and resumes must not race this pause (on a busy machine the first chunk can
  // arrive after the caller's resume(), which would stall the socket again for good).
  const first = new Promise<void>((resolve) => {
    socket.once('data', (chunk) => {
      text += chunk.toString();
      socket.pause();
      resolve();
    });
  });
  socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nAccept: text/event-stream\r\n\r\n`);
  await first;
  return { socket, received: () => text };
}

/**
 * The events in what a stalled client read (HTTP framing and all), in order: each event's name
 * and the first bytes of its data. Frames are written whole, so no chunk header splits one.
 */
export function eventsIn(text: string): Array<{ name: string; data: string }> {
  const events: Array<{ name: string; data: string }> = [];
  for (const match of text.matchAll(/^event: ([^\n]+)\ndata: ([^\n]{0,40})/gm))
    events.push({ name: match[1] as string, data: match[2] as string });
  return events;
}

/**
 * The log of the events numbered `"{n}:..."` (and the resyncs) a stalled client read, for the gap
 * oracle of helpers/gaps.ts (an event whose data is `"{n}"` counts as number n too).
 */
export function numberedLog(text: string): Entry[] {
  return eventsIn(text).flatMap((e): Entry[] => {
    if (e.name === 'eventrail.resync') return [{ kind: 'resync' }];
    const seq = /^"(\d+)[:"]/.exec(e.data)?.[1];
    return seq === undefined ? [] : [{ kind: 'event', p: 0, seq: Number(seq) }];
  });
}
