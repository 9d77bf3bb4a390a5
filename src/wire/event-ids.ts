/**
 * Event ids and the positions they carry.
 *
 * A history entry is identified as Redis Streams do, `{ms}-{seq}`. On the wire an SSE id is
 * `{tag}_{pos}[_{pos}...]`: one compact position (`{ms36}-{seq36}`) per scope the connection's
 * routes cover, in the order of its sorted scope keys, after a short tag derived from those keys.
 * A browser sends the last id back as `Last-Event-ID`; the tag tells us whether it was issued for
 * the same scopes, and each position where to resume that scope. Ids hold only characters from
 * `[0-9a-z_-]`, so they are safe in headers and query strings and need no escaping.
 */

/** A position in a scope's history, compared by `ms`, then `seq`. */
export interface Position {
  readonly ms: number;
  readonly seq: number;
}

/** The longest SSE id we write or accept. */
export const MAX_EVENT_ID_LENGTH = 128;

const STREAM_ID = /^(\d{1,16})-(\d{1,16})$/;
const COMPACT = /^([0-9a-z]{1,10})-([0-9a-z]{1,10})$/;

/** Parses a Redis stream id (`1732800000000-0`). */
export function parseStreamId(id: string): Position | undefined {
  const match = STREAM_ID.exec(id);
  if (!match) return undefined;
  const ms = Number(match[1]);
  const seq = Number(match[2]);
  return Number.isSafeInteger(ms) && Number.isSafeInteger(seq) ? { ms, seq } : undefined;
}

/** The Redis stream id of a position. */
export function streamId(position: Position): string {
  return `${position.ms}-${position.seq}`;
}

/** `a` is strictly after `b`. */
export function isAfter(a: Position, b: Position): boolean {
  return after(a.ms, a.seq, b.ms, b.seq);
}

/** Position `ms, seq` is strictly after `bMs, bSeq`: by ms, then seq. */
function after(ms: number, seq: number, bMs: number, bSeq: number): boolean {
  return ms > bMs || (ms === bMs && seq > bSeq);
}

/** The positions when every scope has one, else undefined. */
export function allPositions(positions: Array<Position | undefined>): Position[] | undefined {
  return positions.every((p) => p !== undefined) ? (positions as Position[]) : undefined;
}

/** The compact wire form of a position. */
export function compactPosition(position: Position): string {
  return compact(position.ms, position.seq);
}

function compact(ms: number, seq: number): string {
  return `${ms.toString(36)}-${seq.toString(36)}`;
}

function parseCompact(part: string): Position | undefined {
  const match = COMPACT.exec(part);
  if (!match) return undefined;
  const ms = Number.parseInt(match[1] as string, 36);
  const seq = Number.parseInt(match[2] as string, 36);
  return Number.isSafeInteger(ms) && Number.isSafeInteger(seq) ? { ms, seq } : undefined;
}

/** A short tag for a set of scope keys (FNV-1a, base 36): ids issued for other scopes never match. */
export function scopeTag(sortedKeys: readonly string[]): string {
  let hash = 0x811c9dc5;
  const text = sortedKeys.join('\n');
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(36);
}

/**
 * Where one stream stands in each of its scopes: the position of the last event written per scope,
 * as `ms, seq` pairs in a plain array of numbers (V8 keeps them unboxed). A connection records one
 * for every event it gets: that then allocates nothing and leaves no pointer from the long-lived
 * connection to the short-lived event, which the garbage collector would otherwise have to trace
 * and promote, once per delivery. A plain array, not a class or a Float64Array: about 70 bytes
 * per one-scope stream (against 65 for the array of one shared Position object it replaces, and
 * 250 for a Float64Array in a class).
 */
export type PositionMarks = number[];

/** The marks of `positions` (one per scope). */
export function positionMarks(positions: readonly Position[]): PositionMarks {
  // Sized at once: an array grown by push reserves room for 17 more (136 bytes per stream).
  const marks: PositionMarks = new Array(positions.length * 2).fill(0);
  for (const [scope, position] of positions.entries()) setMark(marks, scope, position);
  return marks;
}

/** `position` is after the mark of scope `scope`. */
export function isNewMark(marks: PositionMarks, scope: number, position: Position): boolean {
  return after(
    position.ms,
    position.seq,
    marks[scope * 2] as number,
    marks[scope * 2 + 1] as number,
  );
}

/** Moves the mark of scope `scope` to `position`. */
export function setMark(marks: PositionMarks, scope: number, position: Position): void {
  marks[scope * 2] = position.ms;
  marks[scope * 2 + 1] = position.seq;
}

/** The position marked for scope `scope`. */
export function markAt(marks: PositionMarks, scope: number): Position {
  return { ms: marks[scope * 2] as number, seq: marks[scope * 2 + 1] as number };
}

/** The positions of every scope. */
export function markedPositions(marks: PositionMarks): Position[] {
  return Array.from({ length: marks.length / 2 }, (_, scope) => markAt(marks, scope));
}

/** The SSE id for the marks of the scopes tagged `tag`, or undefined when it would be too long. */
export function formatEventId(tag: string, marks: PositionMarks): string | undefined {
  let id = tag;
  for (let i = 0; i < marks.length; i += 2) {
    id += `_${compact(marks[i] as number, marks[i + 1] as number)}`;
  }
  return id.length <= MAX_EVENT_ID_LENGTH ? id : undefined;
}

/**
 * Reads a `Last-Event-ID` back into positions, or undefined when it is malformed, too long, or was
 * issued for another set of scopes (then the client must resync).
 */
export function parseEventId(id: string, tag: string, scopes: number): Position[] | undefined {
  if (id.length > MAX_EVENT_ID_LENGTH) return undefined;
  const parts = id.split('_');
  if (parts.length !== scopes + 1 || parts[0] !== tag) return undefined;
  const positions: Position[] = [];
  for (let i = 1; i < parts.length; i++) {
    const position = parseCompact(parts[i] as string);
    if (position === undefined) return undefined;
    positions.push(position);
  }
  return positions;
}

/** The field a history-backed publish adds to the payload it announces (readable by the Go eventrail). */
export const ANNOUNCED_ID_FIELD = 'eventrail_id';
const ANNOUNCED_TAIL = /,"eventrail_id":"(\d{1,16}-\d{1,16})"}$/;

/** The payload as announced live: the stored payload (a JSON object) with its history id added last. */
export function announce(payload: string, id: string): string {
  return `${payload.slice(0, -1)},"${ANNOUNCED_ID_FIELD}":"${id}"}`;
}

/** The history id an announced payload carries, found without parsing the JSON. */
export function announcedId(payload: string): string | undefined {
  if (payload.charCodeAt(payload.length - 1) !== 125 /* } */) return undefined;
  return ANNOUNCED_TAIL.exec(payload.slice(-56))?.[1];
}
