import { EventrailError } from '../errors.js';
import type { Broker, BrokerHistory, BrokerSubscription, Logger } from '../types.js';
import { Outage, type OutageReport, seconds } from '../util/outage.js';
import { toError } from '../util/to-error.js';
import { wholeNumber } from '../util/whole-number.js';
import { Deadlines } from './deadlines.js';
import { type HistoryLimits, historyLimits, pageLimit } from './history-store.js';
import {
  type AnnounceClient,
  announce,
  assertShardedRedis,
  channelOptions,
  type Listening,
  listen,
  listening,
  namespacePrefix,
  type PubSubClient,
  type RedisPubSubListener,
  shardedSubscriber,
  unlisten,
  usesShards,
} from './redis-channels.js';
import {
  type CommandClient,
  connectCluster,
  type OwnedConnections,
  type RedisClusterClient,
  type RedisClusterConfig,
} from './redis-cluster.js';
import { createRedisHistory } from './redis-history.js';
import { historyCodeMode } from './redis-history-code.js';
import { connectOwned } from './redis-owned.js';
import { boundedPresence, createRedisPresence } from './redis-presence.js';
import type { ChannelMode } from './redis-shard.js';

export type { RedisPubSubListener } from './redis-channels.js';
export type { RedisClusterClient, RedisClusterConfig } from './redis-cluster.js';
export type { ChannelMode } from './redis-shard.js';

/**
 * What the Redis broker needs from the client it publishes with. A node-redis (`redis` v5+)
 * client satisfies it.
 * @public
 */
export interface RedisPublishClient extends AnnounceClient {
  publish(channel: string, message: string): Promise<unknown>;
  /**
   * node-redis's per-command abort: a publish that timed out is taken out of the client's queue,
   * so it is not sent later, when Redis comes back, after the caller was told it failed.
   */
  withAbortSignal?(signal: AbortSignal): Pick<RedisPublishClient, Commands>;
  /**
   * node-redis's per-command options, preferred to `withAbortSignal` when present: the broker
   * passes its own shared abort signal and turns off the client's own timer per command
   * (`timeout`), since `publishTimeoutMs` already bounds every command.
   */
  withCommandOptions?(options: {
    abortSignal: AbortSignal;
    timeout: undefined;
  }): Pick<RedisPublishClient, Commands>;
  /** Raw commands, for the history (Lua scripts and XRANGE). Without it there is no history. */
  sendCommand?(args: string[]): Promise<unknown>;
}

/**
 * What the Redis broker needs from the client it subscribes with: a node-redis client that is used
 * for nothing else (it enters Pub/Sub mode). node-redis resubscribes by itself after a reconnect.
 * @public
 */
export interface RedisSubscribeClient extends PubSubClient {
  pSubscribe(pattern: string, listener: RedisPubSubListener): Promise<unknown>;
  pUnsubscribe(pattern: string, listener: RedisPubSubListener): Promise<unknown>;
  /** node-redis's own view of the connection. */
  readonly isReady?: boolean;
  /** node-redis emits `ready` after every (re)connect: then messages may have been missed. */
  on?(event: 'ready', listener: () => void): unknown;
}

/** A broker subscription as the broker keeps it. */
interface Live {
  readonly listening: Listening;
  readonly listener: RedisPubSubListener;
  readonly onGap?: (() => void) | undefined;
  /** Messages held back while the scope's shard channel moves to another master. */
  held?: Array<[payload: string, redisChannel: string]>;
}

/** The commands a publish or a history read sends. */
type Commands = 'publish' | 'sPublish' | 'sendCommand';

/** Options of {@link createRedisBroker}. @public */
export interface RedisBrokerOptions extends HistoryLimits {
  /**
   * A Redis URL (`redis://host:6379/0`). The broker then creates its two connections (one to
   * publish, one to subscribe), owns them, and closes them in `close()`.
   * Give either `url` or both clients. `undefined` counts as not given (`url: process.env.REDIS_URL`
   * with the variable unset then fails with `invalid-option`, naming what is missing).
   */
  url?: string | undefined;
  /**
   * A Redis Cluster (>= 7), instead of `url`: `{ rootNodes: [{ url }] }` to connect to (the broker
   * creates its cluster clients, owns them and closes them in `close()`), or a connected node-redis
   * cluster client of yours (`createCluster(...)`), which it publishes with and leaves open; it
   * subscribes on a duplicate of its own. Each scope lives on the shard that owns its slot; a
   * publish touches only that shard. Implies `channels: 'sharded'` (classic Pub/Sub is broadcast
   * to every node of a cluster).
   */
  cluster?: RedisClusterConfig | RedisClusterClient;
  /** Your own client to publish with. It is left open by `close()`. */
  publisher?: RedisPublishClient;
  /** Your own client to subscribe with, used for nothing else. It is left open by `close()`. */
  subscriber?: RedisSubscribeClient;
  /**
   * How long a publish may wait (for example while Redis is unreachable) before it rejects with
   * `broker-error`, withdrawn: it is never sent later. The same bound applies to history reads.
   * Commands share one timer, so the rejection may come up to a tenth of this (at most 250 ms)
   * late; when one expires, the commands still queued behind it fail with it.
   * @defaultValue `5000`
   */
  publishTimeoutMs?: number;
  /**
   * Keep a per-scope history in Redis Streams (`{historyKeyPrefix}{scope:id}`), so that clients
   * resume after a reconnect. Publishing then stores and announces in one Lua script.
   * @defaultValue `true`
   */
  history?: boolean;
  /**
   * Prepended to every channel and pattern in Redis (and to the history keys), so that several
   * applications can share one Redis without seeing each other's events: `prefix: 'billing:'`
   * publishes `gym:1:students` as `billing:gym:1:students`. Empty or ending with `:` (then no
   * channel or key of one application is another's), without glob characters or whitespace.
   * An application with a shorter prefix may still be sent another's events by Redis (`''` and
   * routes `billing:gym:*` match `billing:gym:1:students`): it delivers none of them, as their
   * topic (`1:students`) is not one.
   * @defaultValue `''`
   */
  prefix?: string;
  /**
   * Prefix of the history stream keys: empty or ending with `:`, and each application's own.
   * @defaultValue `` `${prefix}eventrail:history:` ``
   */
  historyKeyPrefix?: string;
  /**
   * How the history's Lua runs in Redis. `function`: as a function library (`FCALL`, Redis >= 7;
   * scripts where functions are missing or refused), the cheapest; a library is shared by every
   * client of the server, so use it only where no client you trust less may `FUNCTION LOAD`.
   * `script`: always as scripts called by their SHA1 (`EVALSHA`), which no other client can
   * swap; each append then asks Redis for its `run_id` (about twice the Redis CPU of an append).
   * See SECURITY.md.
   * @defaultValue `'function'`
   */
  historyCode?: 'function' | 'script';
  /**
   * How often the broker checks that its subscription still receives, by publishing a token on a
   * channel of its own and waiting up to `publishTimeoutMs` for it. A subscription that is open
   * but receives nothing (a failover behind a proxy, a half-dead connection) is replaced and its
   * scopes recover from the history. Only for connections the broker owns (`url`); 0 turns it off.
   * @defaultValue `15000`
   */
  probeIntervalMs?: number;
  /**
   * How events travel through Redis. `pattern`: on their own channel (`PUBLISH gym:1:students`),
   * one `PSUBSCRIBE gym:1:*` per scope: the Go eventrail's wire contract, on any Redis. `sharded`:
   * on one shard channel per scope (`SPUBLISH eventrail:{gym:1}`, the channel in the payload),
   * one `SSUBSCRIBE` per scope: no pattern for Redis to match on every publish (Redis >= 7; the
   * Go eventrail does not see these events). A subscriber receives only its own mode.
   * @defaultValue `'pattern'`
   */
  channels?: ChannelMode;
  /**
   * Where a publish is announced. Listing both during a migration from one mode to the other
   * lets servers of either mode receive every event (stored once in the history).
   * @defaultValue `[channels]`
   */
  announce?: readonly ChannelMode[];
  /**
   * Errors of connections the broker owns, once per transition rather than once per reconnect
   * attempt: `broker-error` when Redis becomes unreachable (or stops answering the liveness
   * probe), then at most one reminder per `outageReminderMs` while it stays away, with the number
   * of failed attempts and how long it has been down.
   */
  onError?: (error: Error) => void;
  /**
   * A pino-shaped logger for the same transitions: `error` when Redis goes away, `warn` for each
   * reminder, `info` when it is back (`Redis back after 12.3 s`). Nothing is logged without one.
   */
  logger?: Logger;
  /**
   * While Redis stays unreachable, the longest time between two reports of it (to `onError` and
   * `logger`); 0 reports only the start and the end of an outage.
   * @defaultValue `30000`
   */
  outageReminderMs?: number;
}

const DEFAULT_PUBLISH_TIMEOUT_MS = 5000;
const DEFAULT_OUTAGE_REMINDER_MS = 30_000;

/** A connection error as one line: node-redis's message, without the stack. */
function reason(error: Error | undefined): string {
  return error?.message || error?.name || 'unknown error';
}

/**
 * A broker on Redis Pub/Sub: the production default. Every instance subscribes once per scope
 * on one subscriber connection: `PSUBSCRIBE gym:1:*`, events published with `PUBLISH` (the
 * default, the Go eventrail's wire), or with `channels: 'sharded'` `SSUBSCRIBE` of the scope's
 * shard channel, events published with `SPUBLISH` (Redis >= 7; no pattern for Redis to match).
 *
 * @example
 * ```ts
 * import { createRedisBroker } from 'eventrail/redis';
 * const broker = createRedisBroker({ url: process.env.REDIS_URL });
 * ```
 * @throws {@link EventrailError} `invalid-option` when neither a URL nor both clients are given, or
 *   an option is invalid (in the sharded mode: a prefix with `{` or `}`, clients without the
 *   sharded commands).
 * @public
 */
export function createRedisBroker(options: RedisBrokerOptions): Broker {
  // Every option is checked before a connection is made: a refused call leaves nothing open.
  if (options === null || typeof options !== 'object') {
    throw new EventrailError(
      'invalid-option',
      'createRedisBroker needs an options object, e.g. { url: "redis://127.0.0.1:6379" }.',
    );
  }
  if (options.url !== undefined && typeof options.url !== 'string') {
    throw new EventrailError('invalid-option', 'url must be a string such as "redis://host:6379".');
  }
  const publishTimeoutMs = wholeNumber(
    'publishTimeoutMs',
    options.publishTimeoutMs,
    DEFAULT_PUBLISH_TIMEOUT_MS,
    1,
  );
  const limits = historyLimits(options);
  const prefix = namespacePrefix('prefix', options.prefix ?? '');
  const modes = channelOptions({
    channels: options.channels ?? (options.cluster ? 'sharded' : undefined),
    announce: options.announce,
  });
  if (options.cluster && (modes.channels !== 'sharded' || modes.announce.includes('pattern'))) {
    throw new EventrailError(
      'invalid-option',
      "On a Redis Cluster the channels are 'sharded' (classic Pub/Sub is broadcast to every node).",
    );
  }
  const shards = usesShards(modes);
  const historyKeyPrefix = namespacePrefix(
    'historyKeyPrefix',
    options.historyKeyPrefix ?? `${prefix}eventrail:history:`,
  );
  const code = historyCodeMode(options.historyCode);
  if (shards && /[{}]/.test(prefix + historyKeyPrefix)) {
    throw new EventrailError(
      'invalid-option',
      'In the sharded mode prefix and historyKeyPrefix cannot hold { or }: the hash tag of a scope must be its own.',
    );
  }
  const onError = (error: Error): void => options.onError?.(error);
  const reminderMs = wholeNumber(
    'outageReminderMs',
    options.outageReminderMs,
    DEFAULT_OUTAGE_REMINDER_MS,
  );
  const { logger } = options;
  const log = (level: 'error' | 'warn' | 'info', fields: object, message: string): void => {
    try {
      logger?.[level](fields, message);
    } catch {
      // A broken logger must not break the broker.
    }
  };
  const outage = new Outage(reminderMs, (report: OutageReport) => {
    const fields = { failures: report.failures, downForMs: report.downForMs };
    if (report.kind === 'back') {
      log(
        'info',
        fields,
        `eventrail: Redis back after ${seconds(report.downForMs)} (${report.failures} failed attempts)`,
      );
      return;
    }
    const message =
      report.kind === 'down'
        ? `Redis unreachable (${reason(report.error)}); reconnecting.`
        : `Redis still unreachable after ${seconds(report.downForMs)} (${report.failures} failed attempts; last: ${reason(report.error)}).`;
    const err = new EventrailError('broker-error', message, { cause: report.error });
    log(report.kind === 'down' ? 'error' : 'warn', { ...fields, err }, `eventrail: ${message}`);
    onError(err);
  });
  /** Every owned connection ready and the last probe back: an outage is over. */
  const checkUp = (): void => {
    if (owned === undefined || probeFailed) return;
    const publishing = (owned.publisher as { readonly isReady?: boolean }).isReady;
    if (publishing !== false && owned.subscriber().isReady !== false) outage.recovered();
  };
  /** A connection failed: part of an outage, reported per transition. */
  const failure = (error: Error): void => {
    if (!closed) outage.failure(error);
  };
  let owned: OwnedConnections | undefined;
  let publisher: RedisPublishClient;
  let given: RedisSubscribeClient | undefined;
  if (options.cluster !== undefined) {
    if (options.url !== undefined || options.publisher || options.subscriber) {
      throw new EventrailError(
        'invalid-option',
        'Give createRedisBroker one of `url`, `cluster` or clients.',
      );
    }
    owned = connectCluster(
      options.cluster,
      failure,
      () => {
        checkUp();
        gapAll();
      },
      {
        moving(channel) {
          for (const entry of live) if (entry.listening.name === channel) entry.held ??= [];
        },
        moved: (channel, error) => void followed(channel, error),
      },
      publishTimeoutMs,
    );
    publisher = owned.publisher;
  } else if (options.url !== undefined) {
    if (options.publisher || options.subscriber) {
      throw new EventrailError(
        'invalid-option',
        'Give createRedisBroker either `url` or clients, not both.',
      );
    }
    owned = connectOwned(
      options.url,
      {
        failure,
        up: checkUp,
        gap: () => gapAll(),
        unusable: (error) => {
          log('error', { err: error }, `eventrail: ${error.message}`);
          onError(error);
        },
      },
      { sharded: modes.channels === 'sharded', requireShards: shards },
    );
    publisher = owned.publisher;
  } else if (options.publisher && options.subscriber) {
    publisher = options.publisher;
    given = options.subscriber;
    const canAnnounce = publisher.sPublish || (options.history !== false && publisher.sendCommand);
    if (modes.announce.includes('sharded') && !canAnnounce) {
      throw new EventrailError(
        'invalid-option',
        'Announcing sharded needs a publisher with sPublish.',
      );
    }
    if (modes.channels === 'sharded') shardedSubscriber(given);
  } else {
    throw new EventrailError(
      'invalid-option',
      'createRedisBroker needs `url` (e.g. "redis://127.0.0.1:6379") or both `publisher` and `subscriber` clients.',
    );
  }
  // Our own connections check the Redis version before subscribing anything; given ones here.
  const sendCommand = publisher.sendCommand?.bind(publisher);
  const ready =
    owned?.ready ?? (shards && sendCommand ? assertShardedRedis(sendCommand) : Promise.resolve());
  if (!owned) ready.catch(onError);
  const live = new Set<Live>();
  const subscriber = (): RedisSubscribeClient =>
    owned?.subscriber() ?? (given as RedisSubscribeClient);
  // After every (re)connect node-redis has resubscribed, but what was published while the
  // connection was down is gone: tell every subscription, so that it recovers from the history.
  function gapAll(): void {
    for (const entry of live) guard(() => entry.onGap?.());
  }
  given?.on?.('ready', gapAll);

  /**
   * A scope's shard channel moved to another master and is subscribed there now (or could not be
   * confirmed: then the whole subscriber is replaced): what was published between the old master's
   * last message and the new subscription is recovered from the history. The messages held back
   * meanwhile follow the gap, so that none advances the scope past what it missed.
   */
  async function followed(channel: string, error?: Error): Promise<void> {
    let recovered = false;
    if (error && !closed) {
      outage.failure(error);
      try {
        await replace();
        recovered = true;
      } catch (err) {
        onError(toError(err));
      }
    }
    for (const entry of live) {
      const held = entry.held;
      if (entry.listening.name !== channel || held === undefined) continue;
      entry.held = undefined;
      if (!recovered) guard(() => entry.onGap?.());
      for (const [payload, redisChannel] of held) entry.listener(payload, redisChannel);
    }
  }

  const probeIntervalMs = options.probeIntervalMs ?? 15_000;
  let probing = false;
  /** The last probe did not come back: the subscription is not trusted until it is replaced. */
  let probeFailed = false;
  const probeTimer =
    owned && probeIntervalMs > 0
      ? setInterval(async () => {
          if (probing || closed || !owned) return;
          probing = true;
          try {
            await owned.ready;
            if (await owned.probe(publishTimeoutMs)) {
              probeFailed = false;
              checkUp();
              return;
            }
            probeFailed = true;
            // The probe may have waited through close(): nothing to replace then.
            if (closed) return;
            const silent = owned.silent?.() ?? [];
            const where = silent.length > 0 ? ` on ${silent.join(', ')}` : '';
            outage.failure(
              new EventrailError(
                'broker-error',
                `The Redis subscription receives nothing${where}: replacing it.`,
              ),
            );
            await replace();
          } catch (err) {
            // Redis does not answer (paused, cut off, down): the subscription is not proven to
            // receive until a probe comes back. node-redis reconnects by itself.
            probeFailed = true;
            if (!closed) {
              outage.failure(
                new EventrailError(
                  'broker-error',
                  `Redis did not answer the liveness probe within ${publishTimeoutMs} ms.`,
                  { cause: err },
                ),
              );
            }
          } finally {
            probing = false;
          }
        }, probeIntervalMs)
      : undefined;
  probeTimer?.unref();

  let replacing: Promise<void> | undefined;
  /**
   * Replaces the subscriber with a fresh one that listens to every live subscription; then every
   * subscription recovers from the history. One at a time.
   */
  function replace(): Promise<void> {
    replacing ??= (async () => {
      try {
        if (!owned) return;
        await owned.recycle(live);
        probeFailed = false;
        checkUp();
        gapAll();
      } finally {
        replacing = undefined;
      }
    })();
    return replacing;
  }

  function guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      onError(toError(err));
    }
  }

  const deadlines = new Deadlines(
    publishTimeoutMs,
    (what, ms) =>
      new EventrailError('broker-error', `Redis did not answer ${what} within ${ms} ms.`),
  );

  async function bounded<T>(what: string, run: () => Promise<T>): Promise<T> {
    assertOpen();
    // Told it failed, the caller must be able to rely on it: a command whose turn comes only
    // after that (the connection was not ready yet) is never sent.
    let expired = false;
    const start = (): Promise<T> =>
      expired ? Promise.reject(new Error(`${what} expired before it was sent`)) : run();
    try {
      return await deadlines.bound(ready.then(start), what, () => {
        expired = true;
      });
    } catch (err) {
      // A deadline's own error as it is; anything else (Redis's, a refused set-up) as its cause.
      if (err instanceof EventrailError && err.code === 'broker-error') throw err;
      throw new EventrailError('broker-error', `Redis refused ${what}.`, { cause: err });
    }
  }

  type Abortable = Pick<RedisPublishClient, Commands>;
  /** The client bound to the current shared signal (node-redis makes a proxy per signal). */
  let bound: { signal: AbortSignal; client: Abortable } | undefined;
  /** The publisher, with commands withdrawn from its queue once they time out. */
  const abortable = (): Abortable => {
    if (!publisher.withCommandOptions && !publisher.withAbortSignal) return publisher;
    const signal = deadlines.signal();
    if (bound?.signal !== signal) {
      const client = publisher.withCommandOptions
        ? publisher.withCommandOptions({ abortSignal: signal, timeout: undefined })
        : (publisher.withAbortSignal?.(signal) ?? publisher);
      bound = { signal, client };
    }
    return bound.client;
  };
  const keyedCommand = (args: string[], key?: string): Promise<unknown> => {
    const client: Abortable & Pick<CommandClient, 'sendCommandFor'> = abortable();
    // A cluster routes by a key, which FUNCTION LOAD does not name: the history gives it.
    if (key !== undefined && client.sendCommandFor) return client.sendCommandFor(key, args);
    if (!client.sendCommand) throw new Error('the Redis client has no sendCommand');
    return client.sendCommand(args);
  };
  let history: BrokerHistory | undefined;
  if (options.history !== false && publisher.sendCommand) {
    const store = createRedisHistory(
      { sendCommand: keyedCommand },
      {
        keyPrefix: historyKeyPrefix,
        channelPrefix: prefix,
        announce: modes.announce,
        code,
        ...limits,
      },
    );
    history = {
      append: (scopeKey, channel, payload) =>
        bounded(`history append on ${channel}`, () => store.append(scopeKey, channel, payload)),
      position: (scopeKey) =>
        bounded(`history position of ${scopeKey}`, () => store.position(scopeKey)),
      readSince: async (scopeKey, afterId, limit, epoch) => {
        // A bad limit is the caller's error, not Redis's: checked before anything is sent.
        pageLimit(limit);
        return bounded(`history read of ${scopeKey}`, () =>
          store.readSince(scopeKey, afterId, limit, epoch),
        );
      },
    };
  }
  let closed: Promise<void> | undefined;

  function assertOpen(): void {
    if (closed) throw new EventrailError('broker-closed', 'The Redis broker is closed.');
  }

  return {
    history,
    presence:
      publisher.sendCommand && boundedPresence(createRedisPresence(keyedCommand, prefix), bounded),
    silentShards() {
      if (closed) return [];
      return owned?.silent?.() ?? [];
    },
    state() {
      if (closed) return 'closed';
      return subscriber().isReady !== false && !probeFailed ? 'ready' : 'connecting';
    },
    async subscribe(bare, onMessage, onGap): Promise<BrokerSubscription> {
      assertOpen();
      const target = listening(modes.channels, prefix, bare, onError);
      const pattern = target.name;
      const listener: RedisPubSubListener = (payload, redisChannel) => {
        if (entry.held) {
          entry.held.push([payload, redisChannel]);
          return;
        }
        const message = target.read(payload, redisChannel);
        if (message === undefined) return;
        // node-redis calls listeners from its socket 'data' handler: a throw there skips the
        // remaining listeners, resets its reply decoder and re-emits the error on the client
        // (an unhandled 'error' event crashes a process whose own client has no listener).
        try {
          onMessage(message);
        } catch (err) {
          onError(toError(err));
        }
      };
      const entry: Live = { listening: target, listener, onGap };
      try {
        await ready;
        await listen(subscriber(), target, listener);
      } catch (err) {
        throw new EventrailError('broker-error', `Could not subscribe to ${pattern}.`, {
          cause: err,
        });
      }
      if (closed) {
        // close() ran while PSUBSCRIBE was in flight and could not see this listener: take it
        // off a client we were given (our own clients are being closed anyway).
        if (!owned) {
          try {
            await unlisten(subscriber(), target, listener);
          } catch (err) {
            onError(toError(err));
          }
        }
        throw new EventrailError('broker-closed', 'The Redis broker was closed while subscribing.');
      }
      live.add(entry);
      return {
        async unsubscribe() {
          if (!live.delete(entry) || closed) return;
          // While Redis is unreachable the command waits in the client's queue and runs when it
          // reconnects (until then a message can still reach the listener of a hub nobody holds,
          // which delivers it to no one): a server that is closing must not wait for that.
          const client = subscriber();
          if (client.isReady === false) {
            unlisten(client, target, listener).catch(() => {});
            return;
          }
          await deadlines.bound(unlisten(client, target, listener), `unsubscribing ${pattern}`);
        },
      };
    },
    async publish(channel, payload) {
      await bounded(`PUBLISH ${channel}`, () =>
        announce(abortable(), modes.announce, prefix, channel, payload),
      );
    },
    close() {
      closed ??= (async () => {
        const entries = [...live];
        live.clear();
        clearInterval(probeTimer);
        if (owned) {
          await owned.close(publishTimeoutMs);
          return;
        }
        // Clients we were given stay open; only our own listeners leave them.
        await Promise.allSettled(
          entries.map((e) => unlisten(subscriber(), e.listening, e.listener)),
        );
      })();
      return closed;
    },
  };
}

export type { HistoryLimits } from './history-store.js';
