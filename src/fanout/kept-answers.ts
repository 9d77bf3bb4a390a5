import type { HistoryEntry } from '../types.js';
import { isAfter, type Position, parseStreamId } from '../wire/event-ids.js';

/**
 * Who reads for a replay: the hub whose live events the reading connection holds (it is in the
 * hub before it reads). A hub qualifies as it is: this is `Hub`'s shape.
 */
export interface ReplayReader {
  /** The newest position the hub has delivered, or undefined before the first. */
  readonly lastSeen: Position | undefined;
}

/** A read's answer kept for reuse. */
interface Kept {
  /** The scope it was read for (see {@link MAX_SCOPE_CHARS}). */
  readonly scope: string;
  readonly answer: readonly HistoryEntry[] | null;
  /** The hub it was read for (reads of other hubs may not reuse a tail). */
  readonly reader: ReplayReader | undefined;
  /** The position it proves complete up to: its last entry, else the position it read after. */
  readonly upTo: Position | undefined;
  /** Whether it is a full page (`limit` entries) or `null`: then it holds for anyone, always. */
  readonly settled: boolean;
  /** When it was read. */
  readonly readAt: number;
  /** When it was last read or reused: a storm's answers stay kept while its clients use them. */
  usedAt: number;
  /** See {@link MAX_KEPT_CHARS}. */
  readonly chars: number;
}

/** Whether a kept answer is past its idle wait or its whole lifetime at `now`. */
function expired(kept: Kept, now: number): boolean {
  return now - kept.usedAt > IDLE_MS || now - kept.readAt > MAX_AGE_MS;
}

/** What a kept answer is worth to a caller. */
export type Reuse =
  /** It misses nothing for the caller: use it. */
  | { readonly fresh: true; readonly answer: readonly HistoryEntry[] | null }
  /**
   * Read for the caller's hub, which has delivered newer events since: it is right up to its
   * last entry, `upTo`, and only what came after that needs reading.
   */
  | { readonly fresh: false; readonly answer: readonly HistoryEntry[]; readonly upTo: string };

/**
 * An answer nobody reuses for this long is dropped: in calm times nothing stays. Each reuse starts
 * the wait again, so a storm that a loaded machine stretches over many seconds keeps sharing its
 * reads (a fixed lifetime from the read re-read every page each 5 s, a storm's worst moment).
 */
const IDLE_MS = 5_000;
/** An answer is kept at most this long after its read, however often it is reused. */
const MAX_AGE_MS = 60_000;
/**
 * Characters (ids, channels, payloads) kept at most, over every answer: about 8 MiB of text, about
 * 24 MiB of memory with the entries' objects and the frames written from them (3 bytes a
 * character, measured in a 20,000-deep replay of 1 KiB events). Sized for a storm over many
 * scopes: 9,000 streams back at once over 90 scopes, 500 events behind, read two pages of about
 * 150-character entries per scope, 6.9 MiB in all. A read that finds it full is not kept (what is
 * kept is in use, and dropping it for the newcomer would leave a storm that cycles over more
 * scopes than fit with nothing shared at all: at 2 MiB, 3,125 reads for those 9,000 clients).
 */
const MAX_KEPT_CHARS = 8 * 2 ** 20;
/**
 * Characters kept at most for one scope; its least recently used answers go first. A replay that
 * reads deep (20,000 events of 1 KiB) keeps the last pages it read for the clients following it,
 * about 3 MiB, not everything up to {@link MAX_KEPT_CHARS}.
 */
const MAX_SCOPE_CHARS = 2 ** 20;

/** The characters of an answer's entries. */
function charsOf(answer: readonly HistoryEntry[] | null): number {
  let chars = 0;
  for (const entry of answer ?? [])
    chars += entry.id.length + entry.channel.length + entry.payload.length;
  return chars;
}

/**
 * Recent answers of replay reads, for the clients of a storm that arrive after a read came back.
 * A kept answer is reused only when it provably misses nothing for the caller:
 *
 * - a full page (`limit` entries) or `null` always (later events cannot change either);
 * - else only for the hub it was read for, and only while that hub has delivered nothing newer
 *   than the answer's last entry. The read was sent after that hub was live (its reader was in
 *   it), so every event newer than the answer reaches the hub after the answer, hence the caller
 *   (in the hub) live; an event the hub's subscription missed is the hub's recovery's to deliver.
 */
export class KeptAnswers {
  /** From the least recently used to the most (see #used). */
  readonly #kept = new Map<string, Kept>();
  #chars = 0;
  /** Characters kept, by scope. */
  readonly #scopeChars = new Map<string, number>();

  /** What the kept answer of `key` is worth to `reader` (see {@link Reuse}), or undefined. */
  reuse(key: string, reader: ReplayReader | undefined): Reuse | undefined {
    const kept = this.#kept.get(key);
    if (kept === undefined) return undefined;
    const now = Date.now();
    if (expired(kept, now)) {
      this.#drop(key, kept);
      return undefined;
    }
    if (kept.settled) {
      this.#used(key, kept, now);
      return { fresh: true, answer: kept.answer };
    }
    const { answer, upTo } = kept;
    if (reader === undefined || reader !== kept.reader || upTo === undefined || answer === null)
      return undefined;
    const seen = reader.lastSeen;
    if (seen === undefined || !isAfter(seen, upTo)) {
      this.#used(key, kept, now);
      return { fresh: true, answer };
    }
    const last = answer.at(-1);
    if (last === undefined) return undefined;
    this.#used(key, kept, now);
    return { fresh: false, answer, upTo: last.id };
  }

  /**
   * Keeps the answer of a read of `key`, one of `scope`'s (entries after `afterId`, at most
   * `limit`), unless there is no room for it.
   */
  keep(
    scope: string,
    key: string,
    afterId: string,
    limit: number | undefined,
    answer: readonly HistoryEntry[] | null,
    reader: ReplayReader | undefined,
  ): void {
    const settled = answer === null || (limit !== undefined && answer.length >= limit);
    if (!settled && reader === undefined) return;
    const chars = charsOf(answer);
    if (chars > MAX_SCOPE_CHARS) return;
    const old = this.#kept.get(key);
    if (old !== undefined) this.#drop(key, old);
    const now = Date.now();
    // Room in the scope: its least recently used answers go first (the map runs from them).
    for (const [oldest, kept] of this.#kept) {
      if ((this.#scopeChars.get(scope) ?? 0) + chars <= MAX_SCOPE_CHARS) break;
      if (kept.scope === scope) this.#drop(oldest, kept);
    }
    // In all, only the answers nobody uses any more go: calm times keep nothing.
    for (const [oldest, kept] of this.#kept) {
      if (!expired(kept, now)) break;
      this.#drop(oldest, kept);
    }
    if (this.#chars + chars > MAX_KEPT_CHARS) return;
    const upTo = parseStreamId(answer?.at(-1)?.id ?? afterId);
    this.#kept.set(key, { scope, answer, reader, upTo, settled, readAt: now, usedAt: now, chars });
    this.#add(scope, chars);
  }

  /** Forgets every answer of `scope` (after a gap). */
  forget(scope: string): void {
    for (const [key, kept] of this.#kept) if (kept.scope === scope) this.#drop(key, kept);
  }

  /** Marks a reuse: the answer's idle wait starts again and it moves to the map's end. */
  #used(key: string, kept: Kept, now: number): void {
    kept.usedAt = now;
    this.#kept.delete(key);
    this.#kept.set(key, kept);
  }

  #drop(key: string, kept: Kept): void {
    this.#kept.delete(key);
    this.#add(kept.scope, -kept.chars);
  }

  #add(scope: string, chars: number): void {
    this.#chars += chars;
    const left = (this.#scopeChars.get(scope) ?? 0) + chars;
    if (left > 0) this.#scopeChars.set(scope, left);
    else this.#scopeChars.delete(scope);
  }
}
