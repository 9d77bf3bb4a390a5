import type { BrokerHistory, HistoryEntry, HistoryPosition } from '../types.js';
import { Limiter } from '../util/limiter.js';
import { KeptAnswers, type ReplayReader } from './kept-answers.js';

export type { ReplayReader };

/** The reads of a history the server makes: replays, recoveries and start positions. */
export interface HistoryReader {
  /**
   * See {@link BrokerHistory.readSince}; the array and its entries are frozen (shared). A replay
   * passes the hub its connection is in (`reader`): a recent answer read for that hub is then
   * reused when it provably misses nothing (see `KeptAnswers`). A recovery passes none: it
   * needs a read sent after its gap.
   */
  readSince(
    scopeKey: string,
    afterId: string,
    limit?: number,
    epoch?: string,
    reader?: ReplayReader,
  ): Promise<readonly HistoryEntry[] | null>;
  /** Forgets the answers kept for a scope (its hub had a gap). */
  forget?(scopeKey: string): void;
  /** See {@link BrokerHistory.position}. */
  position(scopeKey: string): Promise<HistoryPosition | string>;
}

/**
 * What a server's history reads cost: see `SseServerStats.historyReads`.
 * @public
 */
export interface HistoryReadStats {
  /** Reads sent to the history. */
  readonly sent: number;
  /** Calls answered by a read another call asked for, or by a recent answer kept for reuse. */
  readonly shared: number;
  /** Reads running now (at most the bound). */
  readonly running: number;
  /** Reads waiting for a free slot now. */
  readonly queued: number;
  /** The most reads that ever ran at once. */
  readonly peak: number;
}

const never = (): boolean => false;

/** One read of a key, and the calls that share it. */
interface Flight {
  answer: Promise<unknown> | undefined;
}

/** Freezes what a read returns, once: every caller that shares it gets the same objects. */
function frozen(entries: HistoryEntry[] | null): readonly HistoryEntry[] | null {
  if (entries === null) return null;
  for (const entry of entries) Object.freeze(entry);
  return Object.freeze(entries);
}

/**
 * A server's one door to its broker's history, for reconnect storms: at most `maxConcurrent`
 * reads run at once (the others wait in arrival order), and identical calls share one read.
 *
 * A call shares a read that has not been sent yet. It takes the answer of one already running
 * only when that answer cannot be older than the call: a full page (`limit` entries, which later
 * events cannot change) or `null` (the position is gone and stays gone). Any other answer may
 * predate an event the caller must see (published after the read, delivered before the caller
 * held its live events), so the calls made while it ran share one more read, sent after it.
 * Thousands of clients resuming from one id cost about one read per read's duration, not one each.
 */
export class SharedHistoryReads implements HistoryReader {
  readonly #history: BrokerHistory;
  readonly #limiter: Limiter;
  /** Reads not sent yet, by key: a call with the same key joins one. */
  readonly #unsent = new Map<string, Flight>();
  /** The newest read of each key (sent or not): the next one waits for it. */
  readonly #newest = new Map<string, Flight>();
  readonly #kept = new KeptAnswers();
  #sent = 0;
  #shared = 0;

  constructor(history: BrokerHistory, maxConcurrent: number) {
    this.#history = history;
    this.#limiter = new Limiter(maxConcurrent);
  }

  async readSince(
    scopeKey: string,
    afterId: string,
    limit?: number,
    epoch?: string,
    reader?: ReplayReader,
  ): Promise<readonly HistoryEntry[] | null> {
    const key = `r ${scopeKey} ${afterId} ${limit ?? ''} ${epoch ?? ''}`;
    const kept = this.#kept.reuse(key, reader);
    let answer: readonly HistoryEntry[] | null;
    if (kept?.fresh === true) {
      this.#shared++;
      return kept.answer;
    }
    if (kept !== undefined) {
      // Right up to its last entry: only what came after it is read (one read for every id
      // resumed from, as their answers all end at the scope's newest entry).
      // The tail reads after the kept answer's last entry, of that entry's epoch.
      const last = kept.answer[kept.answer.length - 1];
      const tail = await this.readSince(
        scopeKey,
        kept.upTo,
        limit,
        last ? last.epoch : epoch,
        reader,
      );
      answer = tail === null ? null : Object.freeze([...kept.answer, ...tail].slice(0, limit));
    } else {
      answer = await this.#share(
        key,
        async () => frozen(await this.#history.readSince(scopeKey, afterId, limit, epoch)),
        (entries) => entries === null || (limit !== undefined && entries.length >= limit),
      );
    }
    this.#kept.keep(scopeKey, key, afterId, limit, answer, reader);
    return answer;
  }

  forget(scopeKey: string): void {
    this.#kept.forget(scopeKey);
  }

  position(scopeKey: string): Promise<HistoryPosition | string> {
    return this.#share(`p ${scopeKey}`, () => this.#history.position(scopeKey), never);
  }

  stats(): HistoryReadStats {
    return {
      sent: this.#sent,
      shared: this.#shared,
      running: this.#limiter.running,
      queued: this.#limiter.queued,
      peak: this.#limiter.peak,
    };
  }

  /**
   * The unsent read of `key` when there is one; else a new one, sent after the key's newest read
   * unless that one's answer is `reusable` (then it is the answer).
   */
  #share<T>(key: string, read: () => Promise<T>, reusable: (answer: T) => boolean): Promise<T> {
    const unsent = this.#unsent.get(key);
    if (unsent !== undefined) {
      this.#shared++;
      return unsent.answer as Promise<T>;
    }
    // Made before it can be sent: a free slot runs the read at once, inside `run`.
    const flight: Flight = { answer: undefined };
    const sent = (): void => {
      if (this.#unsent.get(key) === flight) this.#unsent.delete(key);
    };
    const send = (): Promise<T> =>
      this.#limiter.run(() => {
        // From here on the read may be answered before a later call's events: none may join it.
        sent();
        this.#sent++;
        return read();
      });
    this.#unsent.set(key, flight);
    const previous = this.#newest.get(key)?.answer as Promise<T> | undefined;
    const answer =
      previous === undefined
        ? send()
        : previous.then((earlier) => {
            if (!reusable(earlier)) return send();
            sent();
            return earlier;
          }, send);
    flight.answer = answer;
    this.#newest.set(key, flight);
    const forget = (): void => {
      if (this.#newest.get(key) === flight) this.#newest.delete(key);
    };
    answer.then(forget, forget);
    return answer;
  }
}
