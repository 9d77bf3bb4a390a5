import { formatEvent } from './encoder.js';
import { compactPosition, type Position } from './history.js';
import type { OutgoingEvent } from './types.js';

/**
 * One event, encoded once for every connection of a hub. Connections that cover one scope (the
 * common case) all write `chunk`, which carries the hub's id line; connections that cover several
 * scopes write their own id line before `body`.
 */
export class Frame {
  /** What connections covering only this hub's scope write. */
  readonly chunk: Buffer;
  private bodyBytes: Buffer | undefined;

  constructor(
    readonly event: OutgoingEvent,
    /** The event's place in its scope's history, when it has one. */
    readonly position: Position | undefined,
    private readonly text: string,
    idTag: string,
  ) {
    this.chunk = Buffer.from(
      position ? `id: ${idTag}_${compactPosition(position)}\n${text}` : text,
    );
  }

  /** The frame without an id line. */
  body(): Buffer {
    this.bodyBytes ??= this.position ? Buffer.from(this.text) : this.chunk;
    return this.bodyBytes;
  }

  /**
   * Encodes an event for a hub whose id tag is `idTag`.
   * @throws {@link EventrailError} when the event name cannot go on the wire.
   */
  static encode(event: OutgoingEvent, position: Position | undefined, idTag: string): Frame {
    return new Frame(event, position, formatEvent(event), idTag);
  }
}
