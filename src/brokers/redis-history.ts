import type { BrokerHistory, HistoryEntry } from '../types.js';
import { writerEpoch } from '../wire/event-ids.js';
import { pageLimit } from './history-store.js';
import {
  type HistoryCodeMode,
  historyCode,
  type RedisCommandClient,
  WRITER_FIELD,
} from './redis-history-code.js';
import { type ChannelMode, shardChannel, shardHead } from './redis-shard.js';

function fields(raw: unknown): Map<string, string> {
  const map = new Map<string, string>();
  if (Array.isArray(raw)) {
    for (let i = 0; i + 1 < raw.length; i += 2) map.set(String(raw[i]), String(raw[i + 1]));
  } else if (raw instanceof Map) {
    for (const [k, v] of raw) map.set(String(k), String(v));
  } else if (raw && typeof raw === 'object') {
    for (const [k, v] of Object.entries(raw)) map.set(k, String(v));
  }
  return map;
}

/** Options of the Redis Streams history. */
export interface RedisHistoryOptions {
  readonly keyPrefix: string;
  /** Prepended to the channel an event is announced on (the stored channel stays bare). */
  readonly channelPrefix: string;
  /** Where an append publishes the event: on its channel, on its scope's shard channel, or both. */
  readonly publishModes: readonly ChannelMode[];
  readonly historySize: number;
  readonly historyTtlMs: number;
  /** Function library or scripts (see `historyCode` of the broker's options). */
  readonly code?: HistoryCodeMode;
}

/** A per-scope history in Redis Streams, `{keyPrefix}{scope:id}` (a hash tag, for Cluster). */
export function createRedisHistory(
  client: RedisCommandClient,
  options: RedisHistoryOptions,
): BrokerHistory {
  const key = (scopeKey: string): string => `${options.keyPrefix}{${scopeKey}}`;
  const ttl = String(options.historyTtlMs);
  const code = historyCode(options.publishModes, options.code);
  const sharded = options.publishModes.includes('sharded');
  return {
    async append(scopeKey, channel, payload) {
      return String(
        await code.run(client, 'append', key(scopeKey), [
          channel,
          payload,
          String(options.historySize),
          ttl,
          options.channelPrefix + channel,
          sharded ? shardChannel(options.channelPrefix, scopeKey) : '',
          sharded ? shardHead(channel) : '',
        ]),
      );
    },
    async position(scopeKey) {
      const reply = await code.run(client, 'position', key(scopeKey), [ttl]);
      // An array [id, writer] (an older library answered the id alone).
      if (!Array.isArray(reply)) return String(reply);
      return { id: String(reply[0]), epoch: writerEpoch(String(reply[1])) };
    },
    async readSince(scopeKey, afterId, limit, epoch) {
      const most = pageLimit(limit);
      const stream = key(scopeKey);
      const entries: HistoryEntry[] = [];
      // Chained across reads: each starts at (and includes) the last entry of the one before.
      let from = afterId;
      let writer: string | undefined;
      let epochOf: string | undefined;
      let firstRead = true;
      for (;;) {
        const asked = most - entries.length + 1;
        const reply = await client.sendCommand(
          ['XRANGE', stream, from, '+', 'COUNT', String(asked)],
          stream,
        );
        if (!Array.isArray(reply) || reply.length === 0) return null;
        const first = reply[0] as unknown[];
        // The entry we resume after must still be there: then nothing after it can be missing.
        if (String(first[0]) !== from) return null;
        if (firstRead) {
          firstRead = false;
          writer = fields(first[1]).get(WRITER_FIELD);
          epochOf = writerEpoch(writer);
          // And it must be the entry the client got: of its epoch. Another writer (a promoted
          // replica whose clock is behind) may have stored another event under the same id.
          if (epoch !== undefined && epochOf !== epoch) return null;
        }
        // And every entry after it must come from the process that stored it: another writer
        // (a promoted replica, a restarted Redis) may lack entries the first one acknowledged.
        // Entries without a writer (stored by an older eventrail) match any.
        for (const raw of reply.slice(1) as unknown[][]) {
          const f = fields(raw[1]);
          const w = f.get(WRITER_FIELD);
          if (w !== undefined && w !== writer) {
            if (writer !== undefined) return null;
            writer = w;
            epochOf = writerEpoch(w);
          }
          const channel = f.get('c');
          const payload = f.get('p');
          if (channel !== undefined && payload !== undefined)
            entries.push({ id: String(raw[0]), channel, payload, epoch: epochOf });
        }
        // A short reply is the end. A full one that held entries without an event (markers)
        // reads on, so that a short page always means the end.
        if (reply.length < asked || entries.length >= most) return entries;
        from = String((reply[reply.length - 1] as unknown[])[0]);
      }
    },
  };
}
