/**
 * Event ids and the positions they carry.
 *
 * A history entry is identified as Redis Streams do, `{ms}-{seq}`, and belongs to an epoch: the
 * history that holds it (for Redis, the server process that stored it; for the memory broker, the
 * broker instance). On the wire an SSE id is `{tag}_{pos}[_{pos}...]`: one compact position
 * (`{ms36}-{seq36}`, then `-{epoch36}` unless its epoch is the previous scope's) per scope the
 * connection's routes cover, in the order of its sorted scope keys, after a short tag derived from
 * those keys. A browser sends the last id back as `Last-Event-ID`; the tag tells us whether it
 * was issued for the same scopes, each position where to resume that scope, and its epoch whose
 * history the position is in (another history, say a promoted replica that reissued the id, must
 * not be replayed from). Ids hold only characters from `[0-9a-z_-]`, so they are safe in headers
 * and query strings and need no escaping; their length is bounded by the number of scopes
 * ({@link maxEventIdLength}), about 4 KiB at most with {@link MAX_ID_SCOPES} scopes.
 */

/**
 * A position in a scope's history, compared by `ms`, then `seq`; `epoch` (a 32-bit number) names
 * the history it is in, when known.
 */
export interface Position {
  readonly ms: number;
  readonly seq: number;
  readonly epoch?: number;
}

/** The most scopes one id carries: the limit of `maxRoutesPerPrincipal` with a history. */
export const MAX_ID_SCOPES = 128;

/** The longest tag (a 32-bit hash in base 36). */
const MAX_TAG_LENGTH = 7;
/** The longest position: `_`, ms and seq (11 base-36 digits each, safe integers), `-`, `-`, epoch (7). */
const MAX_POSITION_LENGTH = 32;

/**
 * The longest SSE id written or accepted for `scopes` scopes: 7 + 32 per scope (2,055 bytes for
 * the default 64 routes, 4,103 for {@link MAX_ID_SCOPES}: well within the header limits of nginx,
 * 8 KiB a line, and Node, 16 KiB in all). Ids are much shorter in practice: about 11 bytes a scope.
 */
export function maxEventIdLength(scopes: number): number {
  return MAX_TAG_LENGTH + MAX_POSITION_LENGTH * scopes;
}

const STREAM_ID = /^(\d{1,16})-(\d{1,16})$/;
const COMPACT = /^([0-9a-z]{1,11})-([0-9a-z]{1,11})(?:-([0-9a-z]{1,7}))?$/;
const EPOCH_TEXT = /^[0-9a-f]{8}$/;

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

/**
 * The position of a history entry: its stream id and the epoch of its history (8 hex digits, as
 * brokers announce it; anything else counts as unknown). Undefined when the id is not a stream id.
 */
export function historyPosition(id: string, epoch: string | undefined): Position | undefined {
  const position = parseStreamId(id);
  if (position === undefined || epoch === undefined || !EPOCH_TEXT.test(epoch)) return position;
  return { ms: position.ms, seq: position.seq, epoch: Number.parseInt(epoch, 16) };
}

/** The position a history's `position()` answered: an id, or an id and its epoch. */
export function positionOf(
  answer: string | { readonly id: string; readonly epoch?: string | undefined },
): Position | undefined {
  return typeof answer === 'string'
    ? parseStreamId(answer)
    : historyPosition(String(answer.id), answer.epoch);
}

/** A position's epoch as brokers write it (8 hex digits), or undefined when unknown. */
export function epochText(position: Position): string | undefined {
  return position.epoch === undefined ? undefined : position.epoch.toString(16).padStart(8, '0');
}

/** How many hex digits of a writer (a Redis `run_id`) its epoch keeps; the history's Lua too. */
export const EPOCH_DIGITS = 8;

/** The epoch of a history written by `writer` (a Redis `run_id`): its first 8 hex digits. */
export function writerEpoch(writer: string | undefined): string | undefined {
  const epoch = writer?.slice(0, EPOCH_DIGITS);
  return epoch !== undefined && EPOCH_TEXT.test(epoch) ? epoch : undefined;
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

/** `_{ms36}-{seq36}`, then `-{epoch36}` when the epoch is known and not `previous`. */
function compact(ms: number, seq: number, epoch: number, previous: number): string {
  const tail = epoch >= 0 && epoch !== previous ? `-${epoch.toString(36)}` : '';
  return `_${ms.toString(36)}-${seq.toString(36)}${tail}`;
}

/** One position of an id; its epoch is `previous` when it names none. */
function parseCompact(part: string, previous: number): [Position, number] | undefined {
  const match = COMPACT.exec(part);
  if (!match) return undefined;
  const ms = Number.parseInt(match[1] as string, 36);
  const seq = Number.parseInt(match[2] as string, 36);
  const epoch = match[3] === undefined ? previous : Number.parseInt(match[3], 36);
  if (!Number.isSafeInteger(ms) || !Number.isSafeInteger(seq) || epoch > 0xffffffff)
    return undefined;
  return [epoch < 0 ? { ms, seq } : { ms, seq, epoch }, epoch];
}

/** The SSE id of a connection that covers one scope, tagged `tag`, at `position`. */
export function positionEventId(tag: string, position: Position): string {
  return tag + compact(position.ms, position.seq, position.epoch ?? -1, -1);
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
 * as `ms, seq, epoch` triples in a plain array of numbers (V8 keeps them unboxed; an unknown epoch
 * is -1). A connection records one for every event it gets: that then allocates nothing and
 * leaves no pointer from the long-lived connection to the short-lived event, which the garbage
 * collector would otherwise have to trace and promote, once per delivery. A plain array, not a
 * class or a Float64Array: about 80 bytes per one-scope stream.
 */
export type PositionMarks = number[];

/** Numbers per scope in {@link PositionMarks}. */
const WIDTH = 3;

/** The marks of `positions` (one per scope). */
export function positionMarks(positions: readonly Position[]): PositionMarks {
  // Sized at once: an array grown by push reserves room for 17 more (136 bytes per stream).
  const marks: PositionMarks = new Array(positions.length * WIDTH).fill(-1);
  for (const [scope, position] of positions.entries()) setMark(marks, scope, position);
  return marks;
}

/** How many scopes `marks` holds. */
export function markedScopes(marks: PositionMarks): number {
  return marks.length / WIDTH;
}

/** `position` is after the mark of scope `scope` (epochs aside). */
export function isNewMark(marks: PositionMarks, scope: number, position: Position): boolean {
  return after(
    position.ms,
    position.seq,
    marks[scope * WIDTH] as number,
    marks[scope * WIDTH + 1] as number,
  );
}

/**
 * `position` is in another history than the mark of scope `scope`: both epochs are known and
 * differ.
 */
export function isOtherEpoch(marks: PositionMarks, scope: number, position: Position): boolean {
  const epoch = marks[scope * WIDTH + 2] as number;
  return position.epoch !== undefined && epoch >= 0 && position.epoch !== epoch;
}

/** Moves the mark of scope `scope` to `position` (keeping its epoch when `position` has none). */
export function setMark(marks: PositionMarks, scope: number, position: Position): void {
  marks[scope * WIDTH] = position.ms;
  marks[scope * WIDTH + 1] = position.seq;
  if (position.epoch !== undefined) marks[scope * WIDTH + 2] = position.epoch;
}

/** The position marked for scope `scope`. */
export function markAt(marks: PositionMarks, scope: number): Position {
  const ms = marks[scope * WIDTH] as number;
  const seq = marks[scope * WIDTH + 1] as number;
  const epoch = marks[scope * WIDTH + 2] as number;
  return epoch < 0 ? { ms, seq } : { ms, seq, epoch };
}

/** The positions of every scope. */
export function markedPositions(marks: PositionMarks): Position[] {
  return Array.from({ length: markedScopes(marks) }, (_, scope) => markAt(marks, scope));
}

/**
 * The SSE id for the marks of the scopes tagged `tag`: never empty, at most
 * {@link maxEventIdLength} of the number of scopes.
 */
export function formatEventId(tag: string, marks: PositionMarks): string {
  let id = tag;
  let previous = -1;
  for (let i = 0; i < marks.length; i += WIDTH) {
    const epoch = marks[i + 2] as number;
    id += compact(marks[i] as number, marks[i + 1] as number, epoch, previous);
    if (epoch >= 0) previous = epoch;
  }
  return id;
}

/**
 * Reads a `Last-Event-ID` back into positions, or undefined when it is malformed, too long, or was
 * issued for another set of scopes (then the client must resync). An id without epochs (written
 * before ids carried them) gives positions without one.
 */
export function parseEventId(id: string, tag: string, scopes: number): Position[] | undefined {
  if (id.length > maxEventIdLength(scopes)) return undefined;
  const parts = id.split('_');
  if (parts.length !== scopes + 1 || parts[0] !== tag) return undefined;
  const positions: Position[] = [];
  let previous = -1;
  for (let i = 1; i < parts.length; i++) {
    const parsed = parseCompact(parts[i] as string, previous);
    if (parsed === undefined) return undefined;
    positions.push(parsed[0]);
    previous = parsed[1];
  }
  return positions;
}
