import type { Sink } from '../connection.js';

/** Response headers as eventrail writes them. */
export type HeaderRecord = Record<string, string>;

/**
 * How the server answers one request, whatever the HTTP flavour. `R` is what the framework wants
 * back: nothing for node:http, a `Response` for fetch servers.
 */
export interface Transport<R> {
  /** Aborted as soon as the peer goes away, even before the stream opens. */
  readonly signal: AbortSignal;
  /** Answers with a plain response and no stream. */
  reject(status: number, headers: HeaderRecord, body: string): R;
  /**
   * Starts the stream with `first` as its first bytes, and returns the sink to write to.
   * `onDrain` is called whenever a full transport buffer empties.
   */
  open(headers: HeaderRecord, first: Uint8Array, onDrain: () => void): { sink: Sink; result: R };
}
