import { createHash } from 'node:crypto';
import type { BrokerHistory, HistoryEntry } from '../types.js';
import { ANNOUNCED_ID_FIELD } from '../wire/event-ids.js';
import { type ChannelMode, shardChannel, shardHead } from './redis-shard.js';

/** The one command the history needs from a node-redis client. */
export interface RedisCommandClient {
  sendCommand(args: string[]): Promise<unknown>;
}

interface Script {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

const ANNOUNCE: Record<ChannelMode, string> = {
  pattern: `redis.call('PUBLISH', ARGV[5], string.sub(ARGV[2], 1, -2) .. tail)`,
  // ARGV[7] is '{"channel":"gym:1:students",': the channel first, then the event's own fields.
  sharded: `redis.call('SPUBLISH', ARGV[6], ARGV[7] .. string.sub(ARGV[2], 2, -2) .. tail)`,
};

// Store, trim by length and age, keep the key alive, and announce with the id: one atomic step,
// so ids are unique and in order whatever the number of publishers. The age bound reads Redis's
// clock from the new id (`{ms}-{seq}`, ms from Redis's own time) instead of calling TIME. The
// shard channel shares the key's hash tag, so a sharded announce stays in the key's slot.
const append = (modes: readonly ChannelMode[]): Script =>
  script(`
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'c', ARGV[1], 'p', ARGV[2])
local oldest = tonumber(string.match(id, '^%d+')) - tonumber(ARGV[4])
if oldest > 0 then redis.call('XTRIM', KEYS[1], 'MINID', '~', oldest) end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local tail = ',"${ANNOUNCED_ID_FIELD}":"' .. id .. '"}'
${modes.map((mode) => ANNOUNCE[mode]).join('\n')}
return id
`);

// The newest id, or a marker entry when the scope has none, so that every position is an entry
// whose presence later proves that nothing after it was lost.
const POSITION = script(`
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  return last[1][1]
end
local id = redis.call('XADD', KEYS[1], '*', 'g', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return id
`);

async function run(
  client: RedisCommandClient,
  s: Script,
  key: string,
  args: string[],
): Promise<unknown> {
  try {
    return await client.sendCommand(['EVALSHA', s.sha, '1', key, ...args]);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return client.sendCommand(['EVAL', s.source, '1', key, ...args]);
  }
}

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
  const APPEND = append(options.announce);
  const sharded = options.announce.includes('sharded');
  // Approximate trimming may keep somewhat more than historySize entries.
  const readLimit = String(options.historySize + 1024);
  return {
    async append(scopeKey, channel, payload) {
      return String(
        await run(client, APPEND, key(scopeKey), [
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
      return String(await run(client, POSITION, key(scopeKey), [ttl]));
    },
    async readSince(scopeKey, afterId) {
      const reply = await client.sendCommand([
        'XRANGE',
        key(scopeKey),
        afterId,
        '+',
        'COUNT',
        readLimit,
      ]);
      if (!Array.isArray(reply) || reply.length === 0 || reply.length >= Number(readLimit))
        return null;
      const first = reply[0] as unknown[];
      // The entry we resume after must still be there: then nothing after it can be missing.
      if (String(first[0]) !== afterId) return null;
      const entries: HistoryEntry[] = [];
      for (const raw of reply.slice(1) as unknown[][]) {
        const f = fields(raw[1]);
        const channel = f.get('c');
        const payload = f.get('p');
        if (channel !== undefined && payload !== undefined)
          entries.push({ id: String(raw[0]), channel, payload });
      }
      return entries;
    },
  };
}
