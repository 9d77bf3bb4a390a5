/**
 * Test clients for SSE streams: the real `eventsource` npm client (what a Node consumer uses) and
 * a raw fetch reader (to check bytes on the wire).
 */
import { after } from 'node:test';
import { EventSource } from 'eventsource';
import { createParser, type EventSourceMessage } from 'eventsource-parser';

/** An event as a client saw it. */
export interface SeenEvent {
  readonly name: string;
  readonly data: string;
  readonly id: string | undefined;
}

/**
 * How long {@link waitFor} waits by default: for something that must happen, not a promise about
 * how soon (a test that asserts a bound passes its own `timeoutMs`). Generous, because a busy
 * machine may stall this process or the server for seconds; only a failing test waits it out.
 */
export const WAIT_FOR_MS = 10_000;

/**
 * Polls `predicate` (which may be async, e.g. ask a browser page) until true or fails after
 * `timeoutMs` with `what` in the message.
 */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = WAIT_FOR_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A real EventSource that records the named events it listens to. */
export interface RecordingSource {
  readonly source: EventSource;
  readonly events: SeenEvent[];
  /** Errors the EventSource reported, with the HTTP status when there was one. */
  readonly errors: Array<{ code: number | undefined; message: string | undefined }>;
  /** Resolves once the stream is open, rejects on an error before that. */
  readonly opened: Promise<void>;
  /** The connection id the server announced. */
  connectionId(): string | undefined;
  named(name: string): SeenEvent[];
  close(): void;
}

// Every source and raw stream a test opens is closed when its file ends, even after a failed
// assertion skipped the test's own cleanup: a leaked EventSource reconnects forever and would keep
// the test process from exiting.
const open = new Set<{ close(): void }>();
after(() => {
  for (const stream of open) stream.close();
  open.clear();
});

/** Opens an EventSource on `url` and records events of the given names (and `message`). */
export function openSource(url: string, names: readonly string[] = []): RecordingSource {
  const source = new EventSource(url);
  open.add(source);
  const events: SeenEvent[] = [];
  const errors: RecordingSource['errors'] = [];
  let id: string | undefined;
  const record = (event: MessageEvent): void => {
    events.push({ name: event.type, data: String(event.data), id: event.lastEventId || undefined });
  };
  for (const name of new Set(['message', ...names])) source.addEventListener(name, record);
  source.addEventListener('eventrail.connected', (event) => {
    id = (JSON.parse(String(event.data)) as { connectionId: string }).connectionId;
  });
  const opened = new Promise<void>((resolve, reject) => {
    source.addEventListener('open', () => resolve(), { once: true });
    source.addEventListener('error', (event) => {
      const err = event as Event & { code?: number; message?: string };
      errors.push({ code: err.code, message: err.message });
      reject(new Error(`EventSource error ${err.code ?? ''} ${err.message ?? ''}`));
    });
  });
  opened.catch(() => {});
  return {
    source,
    events,
    errors,
    opened,
    connectionId: () => id,
    named: (name) => events.filter((e) => e.name === name),
    close: () => source.close(),
  };
}

/** A raw stream read with fetch: status, headers, the exact text, and the parsed events. */
export interface RawStream {
  readonly status: number;
  readonly headers: Headers;
  text: string;
  readonly events: EventSourceMessage[];
  retry: number | undefined;
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  abort(): void;
}

/** Opens a stream with fetch and parses it with eventsource-parser as it arrives. */
export async function openRaw(url: string, init: RequestInit = {}): Promise<RawStream> {
  const controller = new AbortController();
  open.add({ close: () => controller.abort() });
  const response = await fetch(url, { ...init, signal: controller.signal });
  const result: RawStream = {
    status: response.status,
    headers: response.headers,
    text: '',
    events: [],
    retry: undefined,
    ended: Promise.resolve(),
    abort: () => controller.abort(),
  };
  const parser = createParser({
    onEvent: (event) => result.events.push(event),
    onRetry: (ms) => {
      result.retry = ms;
    },
  });
  const decoder = new TextDecoder();
  const body = response.body;
  (result as { ended: Promise<void> }).ended = (async () => {
    if (!body) return;
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        const text = decoder.decode(value, { stream: true });
        result.text += text;
        parser.feed(text);
      }
    } catch {
      // aborted by the test
    }
  })();
  return result;
}
