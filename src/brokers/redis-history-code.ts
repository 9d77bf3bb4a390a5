/**
 * The server-side code of the Redis history: its Lua, loaded as a Redis function library where
 * the server has functions (Redis >= 7) and sent as scripts elsewhere (or always, in the `script`
 * mode), and the one way to call it.
 *
 * A function library is shared by every client of the server and runs with the rights of the
 * client that calls it: a client allowed `FUNCTION LOAD` can replace `eventrail_<hash>` with code
 * of its own, which the next `FCALL` of another application then runs. Scripts are called by the
 * SHA1 of their source (`EVALSHA`), so what runs is always this code (SECURITY.md).
 *
 * Every entry names the Redis process that stored it (field `w`, the server's `run_id`), so that a
 * reader can tell when the history it reads was written by another process than the one that
 * stored the entry a client resumes after: a promoted replica, a restarted server. That is where
 * acknowledged entries may have been lost (replication is asynchronous; a restart reloads what
 * was on disk), so such a read is answered with a resync instead of a replay.
 *
 * As a function library the writer is read once per load of the library and kept in a local of
 * the library (a library is loaded again after a restart or a full resync of a replica, so the
 * cached name cannot outlive its process); as a script it is read on every call, which costs
 * about twice the Redis CPU of an append. node-redis's cluster client routes both by the key.
 */
import { createHash } from 'node:crypto';
import { EventrailError } from '../errors.js';
import { ANNOUNCED_EPOCH_FIELD, ANNOUNCED_ID_FIELD } from '../wire/announce.js';
import { EPOCH_DIGITS } from '../wire/event-ids.js';
import type { ChannelMode } from './redis-shard.js';

/** The one command the history needs from a node-redis client; `key` routes it on a cluster. */
export interface RedisCommandClient {
  sendCommand(args: string[], key?: string): Promise<unknown>;
}

/** The field of a history entry that names the Redis process that stored it. */
export const WRITER_FIELD = 'w';

/** One piece of history code: `append` or `position`. */
export type HistoryCall = 'append' | 'position';

// The payload format's pieces (the announced tail of wire/announce.ts, the shard head of
// redis-shard.ts, the epoch of wire/event-ids.ts) come from their TypeScript definitions;
// test/payload-format.test.ts holds what Redis publishes against them.
const PUBLISH_LUA: Record<ChannelMode, string> = {
  pattern: `redis.call('PUBLISH', args[5], string.sub(args[2], 1, -2) .. tail)`,
  // args[7] is '{"channel":"gym:1:students",': the channel first, then the event's own fields.
  sharded: `redis.call('SPUBLISH', args[6], args[7] .. string.sub(args[2], 2, -2) .. tail)`,
};

// Store, trim by length and age, keep the key alive, and announce with the id: one atomic step,
// so ids are unique and in order whatever the number of publishers. The age bound reads Redis's
// clock from the new id (`{ms}-{seq}`, ms from Redis's own time) instead of calling TIME. The
// shard channel shares the key's hash tag, so a sharded announce stays in the key's slot.
const appendBody = (modes: readonly ChannelMode[]): string => `
local id = redis.call('XADD', keys[1], 'MAXLEN', '~', args[3], '*', 'c', args[1], 'p', args[2], '${WRITER_FIELD}', writer())
local oldest = tonumber(string.match(id, '^%d+')) - tonumber(args[4])
if oldest > 0 then redis.call('XTRIM', keys[1], 'MINID', '~', oldest) end
redis.call('PEXPIRE', keys[1], args[4])
local tail = ',"${ANNOUNCED_ID_FIELD}":"' .. id .. '","${ANNOUNCED_EPOCH_FIELD}":"' .. string.sub(writer(), 1, ${EPOCH_DIGITS}) .. '"}'
${modes.map((mode) => PUBLISH_LUA[mode]).join('\n')}
return id`;

// The newest id and its writer, or a marker entry when the scope has none, so that every
// position is an entry whose presence (and writer) later proves that nothing after it was lost.
const positionBody = `
local last = redis.call('XREVRANGE', keys[1], '+', '-', 'COUNT', 1)
redis.call('PEXPIRE', keys[1], args[1])
if #last > 0 then
  local f = last[1][2]
  for i = 1, #f - 1, 2 do
    if f[i] == '${WRITER_FIELD}' then return {last[1][1], f[i + 1]} end
  end
  return {last[1][1], ''}
end
local w = writer()
local id = redis.call('XADD', keys[1], '*', 'g', '1', '${WRITER_FIELD}', w)
redis.call('PEXPIRE', keys[1], args[1])
return {id, w}`;

const READ_WRITER = `string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')`;

const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex');

interface Script {
  readonly source: string;
  readonly sha: string;
}

/** The history's code for one set of publish modes, as a function library and as scripts. */
export interface HistoryCode {
  /** Runs `call` on the node that owns `key`, loading the code there first when it is missing. */
  run(client: RedisCommandClient, call: HistoryCall, key: string, args: string[]): Promise<unknown>;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const isMissingFunction = (err: unknown): boolean => /^ERR Function not found/i.test(message(err));
// Redis < 7 has no functions; an ACL may refuse FUNCTION LOAD: then the scripts serve.
const lacksFunctions = (err: unknown): boolean =>
  /^ERR unknown command|^NOPERM|^ERR unknown subcommand/i.test(message(err));

/** How the history's code runs: see `historyCode` of the Redis broker's options. */
export type HistoryCodeMode = 'function' | 'script';

/**
 * The `historyCode` option, checked.
 * @throws {@link EventrailError} `invalid-option` unless it is `'function'` or `'script'`.
 */
export function historyCodeMode(value: unknown): HistoryCodeMode {
  if (value === undefined) return 'function';
  if (value === 'function' || value === 'script') return value;
  throw new EventrailError(
    'invalid-option',
    `historyCode must be 'function' or 'script', got ${JSON.stringify(value)}.`,
  );
}

/**
 * The code of a history that publishes in `modes`. In the `function` mode it is a function
 * library where the server has functions (scripts elsewhere); in the `script` mode only scripts
 * run, called by the SHA1 of their source, which no other client can change.
 */
export function historyCode(
  modes: readonly ChannelMode[],
  mode: HistoryCodeMode = 'function',
): HistoryCode {
  const order: ChannelMode[] = (['pattern', 'sharded'] as const).filter((m) => modes.includes(m));
  const bodies: Record<HistoryCall, string> = { append: appendBody(order), position: positionBody };
  const tag = sha1(JSON.stringify(bodies)).slice(0, 12);
  const fn = (call: HistoryCall): string => `eventrail_${tag}_${call}`;
  const library = [
    `#!lua name=eventrail_${tag}`,
    'local cached',
    `local function writer() if not cached then cached = ${READ_WRITER} end return cached end`,
    ...(Object.keys(bodies) as HistoryCall[]).map(
      (call) => `redis.register_function('${fn(call)}', function(keys, args)${bodies[call]}\nend)`,
    ),
  ].join('\n');
  const script = (body: string): Script => {
    const source = [
      'local keys, args = KEYS, ARGV',
      `local function writer() return ${READ_WRITER} end`,
      body,
    ].join('\n');
    return { source, sha: sha1(source) };
  };
  const scripts: Record<HistoryCall, Script> = {
    append: script(bodies.append),
    position: script(bodies.position),
  };
  let functions = mode === 'function';

  const runScript = async (
    client: RedisCommandClient,
    s: Script,
    key: string,
    args: string[],
  ): Promise<unknown> => {
    try {
      return await client.sendCommand(['EVALSHA', s.sha, '1', key, ...args], key);
    } catch (err) {
      if (!message(err).startsWith('NOSCRIPT')) throw err;
      return client.sendCommand(['EVAL', s.source, '1', key, ...args], key);
    }
  };

  /** Loads the library on `key`'s node; false when that Redis cannot have functions. */
  const load = async (client: RedisCommandClient, key: string): Promise<boolean> => {
    try {
      await client.sendCommand(['FUNCTION', 'LOAD', 'REPLACE', library], key);
      return true;
    } catch (err) {
      if (!lacksFunctions(err)) throw err;
      return false;
    }
  };

  return {
    async run(client, call, key, args) {
      if (functions) {
        const fcall = ['FCALL', fn(call), '1', key, ...args];
        try {
          return await client.sendCommand(fcall, key);
        } catch (err) {
          if (!isMissingFunction(err) && !lacksFunctions(err)) throw err;
          if (isMissingFunction(err) && (await load(client, key)))
            return client.sendCommand(fcall, key);
          functions = false;
        }
      }
      return runScript(client, scripts[call], key, args);
    },
  };
}
