import {
  formatEventId,
  isNewMark,
  markedPositions,
  markedScopes,
  type Position,
  type PositionMarks,
  positionMarks,
  setMark,
} from '../wire/event-ids.js';
import { formatIdLine, formatIdOnly } from '../wire/sse-format.js';
import type { Frame } from './frame.js';

/**
 * Where one stream stands in the history of each scope it covers: the position of the last event
 * it wrote, per scope. That both dedupes (a replay and live events may overlap) and makes the
 * stream's SSE ids. Without a history it holds nothing: every event is new and carries no id.
 */
export class StreamPositions {
  /** Per scope, in the order of the stream's sorted scope keys; undefined without a history. */
  #marks: PositionMarks | undefined;

  constructor(
    /** The tag of the stream's scopes in ids (see wire/event-ids.ts). */
    private readonly idTag: string,
  ) {}

  /** Per scope, the position of the last event written; undefined without a history. */
  get current(): Position[] | undefined {
    return this.#marks && markedPositions(this.#marks);
  }

  /** Where the stream stands from now on, per scope (undefined without a history). */
  moveTo(positions: Position[] | undefined): void {
    this.#marks = positions && positionMarks(positions);
  }

  /** The SSE id of where the stream stands, or undefined without a history. */
  eventId(): string | undefined {
    return this.#marks && formatEventId(this.idTag, this.#marks);
  }

  /** False when the stream already has the frame's position in scope `scope` (or a later one). */
  isNew(frame: Frame, scope: number): boolean {
    const position = frame.position;
    const marks = this.#marks;
    return !position || !marks || isNewMark(marks, scope, position);
  }

  /**
   * Moves scope `scope` to the frame's position and returns the bytes to write: the frame as it
   * was encoded while the stream covers one scope (the hub's id line is then the stream's id),
   * else the frame's body after the stream's own id line.
   */
  advance(frame: Frame, scope: number): Uint8Array {
    const position = frame.position;
    const marks = this.#marks;
    if (!position || !marks) return frame.chunk;
    setMark(marks, scope, position);
    if (markedScopes(marks) <= 1) return frame.chunk;
    return Buffer.concat([
      Buffer.from(formatIdLine(formatEventId(this.idTag, marks))),
      frame.body(),
    ]);
  }

  /**
   * Moves past a frame without delivering it: the bytes of an SSE frame with only an `id:`, or
   * undefined when there is nothing to move past (no history, no position, or not new).
   */
  pass(frame: Frame, scope: number): Uint8Array | undefined {
    const position = frame.position;
    const marks = this.#marks;
    if (!position || !marks || !isNewMark(marks, scope, position)) return undefined;
    setMark(marks, scope, position);
    return Buffer.from(formatIdOnly(formatEventId(this.idTag, marks)));
  }
}
