/** What connect() needs from a stream, whether the tab holds it alone or shares it. */
import type { EventrailMessage } from './types.js';

/** What a stream reports to the tab. */
export interface StreamHandlers {
  /** An event for this tab (a shared stream leaves out those this tab caused). */
  event(message: EventrailMessage): void;
  /** What this tab sends as its origin; undefined between streams. */
  origin(origin: string | undefined): void;
  resync(reason: 'resync' | 'reconnect'): void;
  state(state: 'open' | 'reconnecting'): void;
  /** How many tabs share the stream (1 when the tab holds it alone). */
  tabs(count: number): void;
}

/** A stream as a tab holds it. */
export interface Stream {
  /** Receives events named `name` too. */
  listen(name: string): void;
  close(): void;
}
