import type { OutgoingEvent } from '../types.js';
import { type Position, positionEventId } from '../wire/event-ids.js';
import { ORIGIN_EVENT, splitOrigin } from '../wire/protocol.js';
import { formatEvent, formatIdLine } from '../wire/sse-format.js';

/**
 * One event, encoded once for every connection of a hub. Connections that cover one scope (the
 * common case) all write `chunk`, which carries the hub's id line; connections that cover several
 * scopes write their own id line before `body`.
 */
export class Frame {
  /** What connections covering only this hub's scope write. */
  readonly chunk: Buffer;
  private bodyBytes: Buffer | undefined;
  private tabFrame: Frame | null | undefined;

  constructor(
    readonly event: OutgoingEvent,
    /** The event's place in its scope's history, when it has one. */
    readonly position: Position | undefined,
    private readonly text: string,
    private readonly idTag: string,
    /**
     * What `coalesce` merges by: the event name, plus the tab for {@link Frame.forTab}'s frame,
     * so that an event every tab needs is never merged into one a tab skips.
     */
    readonly key: string = event.name,
  ) {
    this.chunk = Buffer.from(
      position ? formatIdLine(positionEventId(idTag, position)) + text : text,
    );
  }

  /** The frame without an id line. */
  body(): Buffer {
    this.bodyBytes ??= this.position ? Buffer.from(this.text) : this.chunk;
    return this.bodyBytes;
  }

  /**
   * For the connection whose id an origin `{connectionId}.{tabId}` names: the event preceded by
   * {@link ORIGIN_EVENT} (`{"tab":"<tabId>","event":"<name>"}`) under the same id, so that the tabs sharing that
   * connection skip only the one that caused it. Undefined when the origin names no tab (the
   * connection is skipped). Built once per event, on first use.
   */
  forTab(): Frame | undefined {
    if (this.tabFrame === undefined) {
      const { tab } = splitOrigin(this.event.origin ?? '');
      this.tabFrame =
        tab === undefined
          ? null
          : new Frame(
              this.event,
              this.position,
              formatEvent({
                name: ORIGIN_EVENT,
                data: JSON.stringify({ tab, event: this.event.name }),
              }) + this.text,
              this.idTag,
              `${this.event.name} ${tab}`,
            );
    }
    return this.tabFrame ?? undefined;
  }

  /**
   * Encodes an event for a hub whose id tag is `idTag`.
   * @throws {@link EventrailError} when the event name cannot go on the wire.
   */
  static of(event: OutgoingEvent, position: Position | undefined, idTag: string): Frame {
    return new Frame(event, position, formatEvent(event), idTag);
  }
}
