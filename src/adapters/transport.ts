/** Response headers as eventrail writes them. */
export type HeaderRecord = Record<string, string>;

/**
 * The transport under one SSE stream, implemented once per HTTP flavour (node:http, fetch);
 * a connection writes to it.
 */
export interface Sink {
  /**
   * Writes a whole frame. Returns false when the transport's own buffer is over its mark; the
   * adapter then calls {@link Connection.drained} once it has emptied.
   */
  write(chunk: Uint8Array): boolean;
  /** Ends the stream after what is already buffered. */
  end(): void;
  /** Drops the stream and whatever is buffered for it, at once. */
  destroy(): void;
  /** Bytes written but not yet handed to the network. */
  buffered(): number;
}

/** What a transport tells the stream it carries (a {@link Connection} implements it). */
export interface StreamEvents {
  /** The transport's full buffer has emptied. */
  drained(): void;
  /** The peer went away. */
  peerClosed(): void;
}

/**
 * How the server answers one request, whatever the HTTP flavour. `R` is what the framework wants
 * back: nothing for node:http, a `Response` for fetch servers.
 */
export interface Transport<R> {
  /** True as soon as the peer has gone away, even before the stream opens. */
  readonly aborted: boolean;
  /**
   * A request header (`name` in lower case), or null: what the server itself reads, without
   * building the `Headers` and `URL` of the resolver's request.
   */
  header(name: string): string | null;
  /** A query parameter of the request URL, or null. */
  query(name: string): string | null;
  /** Answers with a plain response and no stream. */
  reject(status: number, headers: HeaderRecord, body: string): R;
  /**
   * Starts the stream with `first` as its first bytes, and returns the sink to write to. `events`
   * (when given) hears whenever a full transport buffer empties and when the peer goes away.
   */
  open(
    headers: HeaderRecord,
    first: Uint8Array,
    events: StreamEvents | undefined,
  ): { sink: Sink; result: R };
}
