import type {
  BackpressurePolicy,
  ClientInfo,
  DisconnectReason,
  OutgoingEvent,
  Principal,
} from './types.js';

/**
 * The transport under one SSE stream, implemented once per HTTP flavour (node:http, fetch).
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
}

/** What a connection reports back to the server that owns it. */
export interface ConnectionOwner<P extends Principal> {
  /** Backpressure acted on this connection. */
  onBackpressure(connection: Connection<P>, action: BackpressurePolicy, event: OutgoingEvent): void;
  /** The connection ended for good; remove it from everything. Called once. */
  onClosed(connection: Connection<P>, reason: DisconnectReason): void;
}

/**
 * One browser's stream on this instance. Holds no timer and no per-event closure: the server's
 * heartbeat and the hubs' fan-out call into it.
 */
export class Connection<P extends Principal = Principal> implements ClientInfo<P> {
  /** Events written since the sink last reported a full buffer; 0 while it keeps up. */
  private pending = 0;
  private congested = false;
  private ended = false;

  constructor(
    readonly id: string,
    readonly principal: P,
    readonly patterns: readonly string[],
    private readonly sink: Sink,
    private readonly bufferSize: number,
    private readonly policy: BackpressurePolicy,
    private readonly owner: ConnectionOwner<P>,
  ) {}

  /** True once the stream has ended for any reason. */
  get closed(): boolean {
    return this.ended;
  }

  /**
   * Writes an encoded event, honouring the buffer bound. Returns true when the event was written.
   */
  send(chunk: Uint8Array, event: OutgoingEvent): boolean {
    if (this.ended) return false;
    if (this.congested) {
      if (this.pending >= this.bufferSize) {
        this.owner.onBackpressure(this, this.policy, event);
        if (this.policy === 'disconnect') this.close('backpressure');
        return false;
      }
      this.pending++;
    }
    if (!this.write(chunk)) {
      this.congested = true;
      // The chunk that filled the transport counts as waiting too.
      if (this.pending === 0) this.pending = 1;
    }
    return !this.ended;
  }

  /** Writes a heartbeat unless the stream is busy anyway (then it needs none). */
  heartbeat(chunk: Uint8Array): void {
    if (!this.ended && !this.congested) this.write(chunk);
  }

  /** The transport's buffer has emptied. */
  drained(): void {
    this.congested = false;
    this.pending = 0;
  }

  /** The peer went away (socket closed, request aborted). */
  peerClosed(): void {
    this.finish('client-closed');
  }

  /**
   * Ends the stream. `server-closed` lets buffered bytes go out; anything else drops them at once.
   */
  close(reason: DisconnectReason): void {
    if (this.ended) return;
    // Detach first: ending the sink may report the peer as gone, which must not count twice.
    this.finish(reason);
    if (reason === 'server-closed') this.sink.end();
    else this.sink.destroy();
  }

  private write(chunk: Uint8Array): boolean {
    try {
      return this.sink.write(chunk);
    } catch {
      // A transport that throws on write is gone; treat it as the peer leaving.
      this.finish('error');
      return false;
    }
  }

  private finish(reason: DisconnectReason): void {
    if (this.ended) return;
    this.ended = true;
    this.owner.onClosed(this, reason);
  }
}
