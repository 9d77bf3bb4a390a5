import { EventrailError } from '../errors.js';
import type { BrokerHistory, HistoryEntry } from '../types.js';
import { announce, isAfter, type Position, parseStreamId, streamId } from '../wire/event-ids.js';

/** Bounds of a history: how many entries and how old, per scope. @public */
export interface HistoryLimits {
  /** Entries kept per scope. @defaultValue `1000` */
  historySize?: number;
  /** How long an entry stays resumable, in ms. @defaultValue `600000` (10 min) */
  historyTtlMs?: number;
}

export const HISTORY_DEFAULTS = { historySize: 1000, historyTtlMs: 600_000 } as const;

/**
 * Entries in one page of a history read (`readSince`'s `limit` when omitted, and the page a
 * replay reads): what one read holds in memory, whatever the history's size.
 */
export const HISTORY_PAGE = 256;

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

/**
 * The in-memory equivalent of a Redis Streams history: one bounded, time-limited list per scope,
 * ids `{ms}-{seq}` that only ever increase (even if the clock steps back).
 */
export function createMemoryHistory(
  limits: Required<HistoryLimits>,
  publish: (channel: string, payload: string, id: string) => void,
): BrokerHistory {
  const scopes = new Map<string, Stored[]>();
  let last: Position = { ms: 0, seq: 0 };

  function nextId(): Position {
    const now = Date.now();
    last = now > last.ms ? { ms: now, seq: 0 } : { ms: last.ms, seq: last.seq + 1 };
    return last;
  }

  function trimmed(scopeKey: string): Stored[] {
    const entries = scopes.get(scopeKey) ?? [];
    const oldest = Date.now() - limits.historyTtlMs;
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
    async append(scopeKey, channel, payload) {
      const id = store(scopeKey, channel, payload, false);
      publish(channel, announce(payload, id), id);
      return id;
    },
    async position(scopeKey) {
      const entries = trimmed(scopeKey);
      const newest = entries[entries.length - 1];
      return newest ? newest.id : store(scopeKey, '', '', true);
    },
    async readSince(scopeKey, afterId, limit) {
      const most = pageLimit(limit);
      const after = parseStreamId(afterId);
      if (after === undefined) return null;
      const entries = trimmed(scopeKey);
      const index = entries.findIndex((e) => e.id === afterId);
      if (index === -1) return null;
      const page: HistoryEntry[] = [];
      for (let i = index + 1; i < entries.length && page.length < most; i++) {
        const { id, at, channel, payload, marker } = entries[i] as Stored;
        if (!marker && isAfter(at, after)) page.push({ id, channel, payload });
      }
      return page;
    },
  };
}
