import type { BrokerHistory, HistoryEntry } from '../types.js';
import { pageLimit } from './history-store.js';
import { historyCode, type RedisCommandClient, WRITER_FIELD } from './redis-history-code.js';
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
  /** How an append announces the event: on its channel, on its scope's shard channel, or both. */
  readonly announce: readonly ChannelMode[];
  readonly historySize: number;
  readonly historyTtlMs: number;
}

/** A per-scope history in Redis Streams, `{keyPrefix}{scope:id}` (a hash tag, for Cluster). */
export function createRedisHistory(
  client: RedisCommandClient,
  options: RedisHistoryOptions,
): BrokerHistory {
  const key = (scopeKey: string): string => `${options.keyPrefix}{${scopeKey}}`;
  const ttl = String(options.historyTtlMs);
  const code = historyCode(options.announce);
  const sharded = options.announce.includes('sharded');
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
      return String(await code.run(client, 'position', key(scopeKey), [ttl]));
    },
    async readSince(scopeKey, afterId, limit) {
      const most = pageLimit(limit);
      const stream = key(scopeKey);
      const entries: HistoryEntry[] = [];
      // Chained across reads: each starts at (and includes) the last entry of the one before.
      let from = afterId;
      let writer: string | undefined;
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
        // And every entry after it must come from the process that stored it: another writer
        // (a promoted replica, a restarted Redis) may lack entries the first one acknowledged.
        // Entries without a writer (stored by an older eventrail) match any.
        writer ??= fields(first[1]).get(WRITER_FIELD);
        for (const raw of reply.slice(1) as unknown[][]) {
          const f = fields(raw[1]);
          const w = f.get(WRITER_FIELD);
          if (w !== undefined) {
            if (writer !== undefined && w !== writer) return null;
            writer = w;
          }
          const channel = f.get('c');
          const payload = f.get('p');
          if (channel !== undefined && payload !== undefined)
            entries.push({ id: String(raw[0]), channel, payload });
        }
        // A short reply is the end. A full one that held entries without an event (markers)
        // reads on, so that a short page always means the end.
        if (reply.length < asked || entries.length >= most) return entries;
        from = String((reply[reply.length - 1] as unknown[])[0]);
      }
    },
  };
}
