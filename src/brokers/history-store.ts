import { randomBytes } from 'node:crypto';
import { EventrailError } from '../errors.js';
import type { BrokerHistory, HistoryEntry } from '../types.js';
import { HISTORY_PAGE } from '../types.js';
import { withHistoryId } from '../wire/announce.js';
import { isAfter, type Position, parseStreamId, streamId } from '../wire/event-ids.js';

/** Bounds of a history: how many entries and how old, per scope. @public */
export interface HistoryLimits {
  /** Entries kept per scope. @defaultValue `1000` */
  historySize?: number;
  /** How long an entry stays resumable, in ms. @defaultValue `600000` (10 min) */
  historyTtlMs?: number;
}

const HISTORY_DEFAULTS = { historySize: 1000, historyTtlMs: 600_000 } as const;

/**
 * `readSince`'s `limit`, the page size when omitted.
 * @throws {@link EventrailError} `invalid-option` unless it is a whole number >= 1
 */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return HISTORY_PAGE;
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new EventrailError('invalid-option', 'readSince: limit must be a whole number >= 1.');
  return limit;
}

/**
 * A broker's history bounds, defaults filled in.
 * @throws {@link EventrailError} `invalid-option` unless each is a whole number >= 1
 */
export function historyLimits(options: HistoryLimits): Required<HistoryLimits> {
  const limits = {
    historySize: options.historySize ?? HISTORY_DEFAULTS.historySize,
    historyTtlMs: options.historyTtlMs ?? HISTORY_DEFAULTS.historyTtlMs,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1)
      throw new EventrailError('invalid-option', `${name} must be a whole number >= 1.`);
  }
  return limits;
}

interface Stored extends HistoryEntry {
  readonly at: Position;
  readonly marker: boolean;
}

/** Scopes an operation on the history looks at besides its own, to drop those gone idle. */
export const SWEEP_PER_OPERATION = 4;

/** A memory history, and how many scopes it holds (for tests). */
export interface MemoryHistory extends BrokerHistory {
  readonly scopeCount: number;
}

/**
 * The in-memory equivalent of a Redis Streams history: one bounded, time-limited list per scope,
 * ids `{ms}-{seq}` that only ever increase (even if the clock steps back), all of one epoch, the
 * history's own (random): an id another instance issued is never taken for one of its own. Like a
 * Redis key with
 * a TTL, a scope whose newest entry is older than `historyTtlMs` goes entirely: every operation
 * also looks at the next {@link SWEEP_PER_OPERATION} scopes in turn and drops those, so an idle
 * scope is gone after at most (scopes / 4) operations on any scope once its entries expired.
 */
export function createMemoryHistory(
  limits: Required<HistoryLimits>,
  publish: (channel: string, payload: string, id: string, epoch: string) => void,
): MemoryHistory {
  const scopes = new Map<string, Stored[]>();
  const epoch = randomBytes(4).toString('hex');
  let last: Position = { ms: 0, seq: 0 };
  /** Where the sweep goes on: a live iterator, which survives deletions and sees additions. */
  let cursor = scopes.keys();

  /** Drops up to {@link SWEEP_PER_OPERATION} scopes whose every entry has expired. */
  function sweep(oldest: number): void {
    for (let i = 0; i < SWEEP_PER_OPERATION && i < scopes.size; i++) {
      let next = cursor.next();
      if (next.done) {
        cursor = scopes.keys();
        next = cursor.next();
      }
      if (next.done) return;
      const entries = scopes.get(next.value) as Stored[];
      const newest = entries[entries.length - 1];
      if (newest === undefined || newest.at.ms < oldest) scopes.delete(next.value);
    }
  }

  function nextId(): Position {
    const now = Date.now();
    last = now > last.ms ? { ms: now, seq: 0 } : { ms: last.ms, seq: last.seq + 1 };
    return last;
  }

  function trimmed(scopeKey: string): Stored[] {
    const oldest = Date.now() - limits.historyTtlMs;
    sweep(oldest);
    const entries = scopes.get(scopeKey) ?? [];
    let drop = Math.max(0, entries.length - limits.historySize);
    while (drop < entries.length && (entries[drop] as Stored).at.ms < oldest) drop++;
    if (drop > 0) entries.splice(0, drop);
    scopes.set(scopeKey, entries);
    return entries;
  }

  function store(scopeKey: string, channel: string, payload: string, marker: boolean): string {
    const at = nextId();
    const id = streamId(at);
    trimmed(scopeKey).push({ id, at, channel, payload, marker });
    return id;
  }

  return {
    get scopeCount() {
      return scopes.size;
    },
    async append(scopeKey, channel, payload) {
      const id = store(scopeKey, channel, payload, false);
      publish(channel, withHistoryId(payload, id, epoch), id, epoch);
      return id;
    },
    async position(scopeKey) {
      const entries = trimmed(scopeKey);
      const newest = entries[entries.length - 1];
      return { id: newest ? newest.id : store(scopeKey, '', '', true), epoch };
    },
    async readSince(scopeKey, afterId, limit, afterEpoch) {
      const most = pageLimit(limit);
      const after = parseStreamId(afterId);
      if (after === undefined || (afterEpoch !== undefined && afterEpoch !== epoch)) return null;
      const entries = trimmed(scopeKey);
      const index = entries.findIndex((e) => e.id === afterId);
      if (index === -1) return null;
      const page: HistoryEntry[] = [];
      for (let i = index + 1; i < entries.length && page.length < most; i++) {
        const { id, at, channel, payload, marker } = entries[i] as Stored;
        if (!marker && isAfter(at, after)) page.push({ id, channel, payload, epoch });
      }
      return page;
    },
  };
}
