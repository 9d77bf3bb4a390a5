import type { BrokerMessage, EventEncoder, HistoryEntry, Principal } from '../types.js';
import { historyPosition, type Position } from '../wire/event-ids.js';
import { decodePayload } from '../wire/payload.js';
import { Frame } from './frame.js';
import type { Hub } from './hub.js';

/** What encoding needs from the server. */
export interface EncodingContext {
  readonly prefix: string;
  readonly encoder: EventEncoder | undefined;
  /** Broker messages longer than this (characters) are not delivered: their hub resyncs. */
  readonly maxMessageLength: number;
  report(error: unknown): void;
}

/**
 * Broker messages and history entries made into frames: once per event for live delivery, and
 * once per entry for all the replays of a reconnect storm that share it.
 */
export class FrameEncoding<P extends Principal> {
  /**
   * Frames of replayed history entries, by entry: the history reads of a reconnect storm hand
   * every replay the same (frozen) entry objects, so each is decoded and encoded once, not once
   * per client. Weak: a frame lives as long as some page still holds its entry.
   */
  private readonly replayFrames = new WeakMap<HistoryEntry, { tag: string; frame: Frame | null }>();

  constructor(private readonly ctx: EncodingContext) {}

  /** Encodes a message for a hub, or null when the encoder drops it or it cannot be encoded. */
  frameFor(hub: Hub<P>, message: BrokerMessage): Frame | null {
    try {
      const { encoder, prefix } = this.ctx;
      const event = encoder ? encoder(message, prefix) : decodePayload(message, prefix);
      if (event === null) return null;
      return Frame.of(event, claimedPosition(message), hub.idTag);
    } catch (err) {
      this.ctx.report(err);
      return null;
    }
  }

  /** {@link frameFor} a history entry being replayed, encoded once for every replay that shares it. */
  replayFrame(hub: Hub<P>, entry: HistoryEntry): Frame | null {
    const known = this.replayFrames.get(entry);
    if (known !== undefined && known.tag === hub.idTag) return known.frame;
    const frame = this.frameFor(hub, entry);
    this.replayFrames.set(entry, { tag: hub.idTag, frame });
    return frame;
  }

  /** Longer than any eventrail publisher writes: published around it, and never written. */
  tooLarge(message: BrokerMessage): boolean {
    return message.payload.length > this.ctx.maxMessageLength;
  }
}

/**
 * How far in the future a message's id may be. Anyone who can PUBLISH can forge one; a position
 * far ahead would make every connection skip the real events after it (they look older).
 */
const MAX_ID_SKEW_MS = 60_000;

/**
 * The history position a message claims (its id and epoch), unless it claims to come from the
 * future (then: no id, live only).
 */
export function claimedPosition(message: BrokerMessage): Position | undefined {
  const position =
    message.id === undefined ? undefined : historyPosition(message.id, message.epoch);
  return position && position.ms <= Date.now() + MAX_ID_SKEW_MS ? position : undefined;
}
