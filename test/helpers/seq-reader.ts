/**
 * A fast SSE reader of numbered events (`app.seq`, data `{"p","seq",...}`) that keeps only what
 * the gap oracle needs (numbers and resyncs, never the data), so that a long replay costs the
 * test process no memory of its own.
 */
import { createParser } from 'eventsource-parser';
import type { Entry } from './gaps.js';

export interface SeqReader {
  /** Events and resyncs, in the order read. */
  readonly log: Entry[];
  /** The numbered events read so far. */
  events(): number;
  /** The last SSE id read. */
  lastId(): string | undefined;
  /** True once the server ended the stream (or it failed). */
  ended(): boolean;
  stop(): void;
}

/** Reads `url`'s stream from `lastEventId` as fast as it comes. */
export function readSeq(url: string, lastEventId?: string): SeqReader {
  const log: Entry[] = [];
  let count = 0;
  let last: string | undefined;
  let done = false;
  const controller = new AbortController();
  const parser = createParser({
    onEvent(event) {
      if (event.id) last = event.id;
      if (event.event === 'eventrail.resync') log.push({ kind: 'resync', id: event.id });
      else if (event.event === 'app.seq') {
        // Only the numbers: the data (padding and all) is dropped at once.
        const { p, seq } = JSON.parse(event.data) as { p: number; seq: number };
        log.push({ kind: 'event', p, seq });
        count++;
      }
    },
  });
  void (async () => {
    try {
      const headers: Record<string, string> = lastEventId ? { 'Last-Event-ID': lastEventId } : {};
      const response = await fetch(url, { headers, signal: controller.signal });
      const reader = response.body?.getReader();
      const decoder = new TextDecoder();
      while (reader) {
        const { done: end, value } = await reader.read();
        if (end) break;
        parser.feed(decoder.decode(value, { stream: true }));
      }
    } catch {
      // stopped, or cut by the server: `ended` tells
    } finally {
      done = true;
    }
  })();
  return {
    log,
    events: () => count,
    lastId: () => last,
    ended: () => done,
    stop: () => controller.abort(),
  };
}
