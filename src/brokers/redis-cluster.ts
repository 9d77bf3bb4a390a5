/**
 * The broker's connections to a Redis Cluster: one node-redis cluster client that publishes to
 * the master of each event's slot, and one that subscribes each scope's shard channel on the
 * master that owns it (node-redis follows a slot to its new owner; the broker is told when the
 * subscription is in place there, to recover what the scope published meanwhile). A probe on every
 * master finds a subscription that receives nothing; the subscriber is then replaced as a whole.
 */
import { randomBytes } from 'node:crypto';
import { createCluster } from 'redis';
import { EventrailError } from '../errors.js';
import { keySlot } from './cluster-slot.js';
import {
  assertShardedRedis,
  listen,
  type PubSubClient,
  type RedisPubSubListener,
} from './redis-channels.js';
import { closeClient, type Resubscription } from './redis-owned.js';

/** Where to find a Redis Cluster: some of its nodes (node-redis discovers the rest). @public */
export interface RedisClusterConfig {
  /** Nodes to discover the cluster from, e.g. `[{ url: 'redis://10.0.0.1:6379' }]`. */
  readonly rootNodes: ReadonlyArray<{ readonly url: string }>;
}

/** The commands a publish or a history read sends, as the broker calls them. */
export interface CommandClient {
  publish(channel: string, message: string): Promise<unknown>;
  sPublish(channel: string, message: string): Promise<unknown>;
  sendCommand(args: string[]): Promise<unknown>;
  /** A raw command sent to the node that owns `key` (FUNCTION LOAD names no key of its own). */
  sendCommandFor?(key: string, args: string[]): Promise<unknown>;
  withCommandOptions(options: {
    abortSignal: AbortSignal;
    timeout: undefined;
  }): Omit<CommandClient, 'withCommandOptions'>;
}

/** The connections a broker owns, on one Redis or on a cluster. */
export interface OwnedConnections {
  readonly publisher: CommandClient;
  subscriber(): PubSubClient & { readonly isReady?: boolean };
  readonly ready: Promise<void>;
  /** Subscribes `patterns` again on fresh connections (only those of silent shards on a cluster). */
  recycle(patterns: Iterable<Resubscription>): Promise<void>;
  /** True when every subscription connection received its probe within `timeoutMs`. */
  probe(timeoutMs: number): Promise<boolean>;
  close(closeTimeoutMs: number): Promise<void>;
  /** The masters (`host:port`) whose subscription missed the last probe. */
  silent?(): readonly string[];
}

/**
 * A scope's shard channel changes master (its slot migrated): between the old master's last
 * message and the new subscription, the scope's events reach no one here.
 */
export interface MoveEvents {
  /** The subscription of `channel` left its master; until `moved`, delivery may have a gap. */
  moving(channel: string): void;
  /**
   * `channel` is subscribed on its new master (every message published from now on arrives),
   * or, with `error`, that could not be confirmed in time.
   */
  moved(channel: string, error?: Error): void;
}

/** How a node connection of ours retries: like node-redis, until `stop()` says the broker closed. */
type ReconnectStrategy = (retries: number) => number | false;

const make = (config: RedisClusterConfig, reconnectStrategy?: ReconnectStrategy) =>
  createCluster({
    rootNodes: config.rootNodes.map(({ url }) => ({ url })),
    ...(reconnectStrategy ? { defaults: { socket: { reconnectStrategy } } } : {}),
  });
/** A node-redis cluster client (`createCluster({ rootNodes })` from `redis`). @public */
export type RedisClusterClient = ReturnType<typeof make>;
type Cluster = RedisClusterClient;

/** The key a raw command is routed by: the history's scripts and reads name it. */
function routingKey(args: readonly string[]): string | undefined {
  const name = args[0]?.toUpperCase();
  if (name === 'EVALSHA' || name === 'EVAL' || name === 'FCALL') return args[3];
  if (name === 'XRANGE' || name === 'XREVRANGE') return args[1];
  return undefined;
}

function commands(cluster: Cluster): Omit<CommandClient, 'withCommandOptions'> {
  return {
    publish: (channel, message) => cluster.publish(channel, message),
    sPublish: (channel, message) => cluster.sPublish(channel, message),
    sendCommand: (args) => cluster.sendCommand(routingKey(args), false, args),
    sendCommandFor: (key, args) => cluster.sendCommand(key, false, args),
  };
}

/**
 * Connects to the cluster of `config`, or uses the cluster client given (left open; the broker
 * subscribes on a duplicate of its own). `onReady` runs whenever a node connection of the
 * subscriber (re)connects after the first connect: subscriptions may have missed messages then.
 */
export function connectCluster(
  source: RedisClusterConfig | RedisClusterClient,
  onError: (error: Error) => void,
  onReady: () => void,
  moves: MoveEvents,
  timeoutMs: number,
): OwnedConnections {
  const given = 'rootNodes' in source ? undefined : source;
  // node-redis can leave a node connection out of its cluster's books (the one of a master that
  // died during a failover, opened while it was being replaced): close() never reaches it, and it
  // would retry forever. The connections of a cluster we create (and its duplicates) stop retrying
  // once the broker is closed.
  let closing = false;
  const reconnectStrategy: ReconnectStrategy = (retries) =>
    closing
      ? false
      : Math.min(50 * 2 ** Math.min(retries, 6), 2000) + Math.floor(Math.random() * 200);
  const cluster = given ?? make(source as RedisClusterConfig, reconnectStrategy);

  const watch = (client: Cluster): Cluster => {
    client.on('error', (err: unknown) => {
      onError(new EventrailError('broker-error', 'Redis Cluster error.', { cause: err }));
    });
    client.on('node-error', (err: unknown, node: { host: string; port: number }) => {
      onError(
        new EventrailError('broker-error', `Redis Cluster node ${node.host}:${node.port} error.`, {
          cause: err,
        }),
      );
    });
    return client;
  };
  if (!given) watch(cluster);
  /** Subscribes; replaced as a whole when a probe finds it deaf on a master. */
  let subscriber = watch(cluster.duplicate());
  const id = randomBytes(8).toString('hex');
  /** Each master's probe channel: a shard channel in one of its slots. */
  const probeChannels = new Map<string, string>();
  /** The probe channels `subscriber` listens to. */
  let probing = new Set<string>();
  let waiting: Map<string, () => void> | undefined;
  let silent: string[] = [];
  let started = false;
  const onProbe: RedisPubSubListener = (token) => waiting?.get(token)?.();
  // A subscriber connection to a node (re)connected: what it was subscribed to may have missed
  // messages meanwhile.
  const gap = (): void => {
    if (started) onReady();
  };
  /** The shard connections (one per master) whose moves we follow. */
  const hooked = new WeakSet<object>();
  /** The latest move of each channel being followed. */
  const following = new Map<string, number>();
  let moveCount = 0;

  /** Follows the moves of the shard connections of `client` not hooked yet. */
  function hookMoves(client: Cluster): void {
    for (const master of client.masters) {
      const shard = master.pubSub?.client;
      if (shard === undefined || hooked.has(shard)) continue;
      hooked.add(shard);
      // node-redis itself subscribes the channel on the slot's new owner; we learn when that is done.
      shard.on('sharded-channel-moved', (channel: string) => {
        if (client === subscriber && started) void follow(client, channel);
      });
    }
  }

  async function follow(client: Cluster, channel: string): Promise<void> {
    const move = ++moveCount;
    following.set(channel, move);
    moves.moving(channel);
    let error: Error | undefined;
    try {
      await settled(client, channel);
    } catch (err) {
      error = new EventrailError(
        'broker-error',
        `The subscription to ${channel} did not follow its slot to its new master within ${timeoutMs} ms.`,
        { cause: err },
      );
    }
    // A later move of the same channel ends this one.
    if (following.get(channel) !== move) return;
    following.delete(channel);
    if (started) moves.moved(channel, error);
  }

  /**
   * Resolves once `channel` is subscribed on the master that owns its slot now: node-redis moved
   * its listeners there and Redis answered the SSUBSCRIBE. A channel of the same slot subscribed
   * on the same connection answers after it.
   */
  async function settled(client: Cluster, channel: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const slot = keySlot(channel);
    for (;;) {
      // Replaced or closed meanwhile: the new subscriber starts with a recovery of every scope.
      if (client !== subscriber || !started) return;
      const shard = client.slots[slot]?.master.pubSub;
      const node = shard && (await (shard.connectPromise ?? shard.client));
      if (node?.getPubSubListeners('SHARDED').has(channel)) {
        const marker = `${channel}:moved:${id}`;
        const none: RedisPubSubListener = () => {};
        await node.sSubscribe(marker, none);
        await node.sUnsubscribe(marker, none);
        return;
      }
      if (Date.now() > deadline)
        throw new Error(`${channel} is not subscribed on slot ${slot}'s master`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Watches a subscriber: reconnections are gaps, moved channels are followed. */
  function watchSubscriber(client: Cluster): void {
    client.on('node-ready', () => {
      hookMoves(client);
      gap();
    });
    // node-redis could not subscribe a moved channel on its new owner: the listeners are gone.
    client.on('sharded-channel-moved-error', (err: unknown, channel: string) => {
      if (client !== subscriber || !started) return;
      following.set(channel, ++moveCount);
      moves.moving(channel);
      moves.moved(
        channel,
        new EventrailError('broker-error', `Could not follow ${channel} to its new master.`, {
          cause: err,
        }),
      );
    });
  }
  watchSubscriber(subscriber);

  const masterOf = (channel: string): string | undefined =>
    cluster.slots[keySlot(channel)]?.master.address;

  /** The probe channel of `master`, subscribed on `client`. */
  async function probeChannel(master: string, client = subscriber, on = probing): Promise<string> {
    let channel = probeChannels.get(master);
    if (channel === undefined || masterOf(channel) !== master) {
      for (let n = 0; n < 100_000; n++) {
        const candidate = `eventrail:probe:{${id}.${n}}`;
        if (masterOf(candidate) === master) {
          channel = candidate;
          break;
        }
      }
      if (channel === undefined) throw new Error(`no probe channel found for ${master}`);
      probeChannels.set(master, channel);
    }
    if (!on.has(channel)) {
      await client.sSubscribe(channel, onProbe);
      on.add(channel);
    }
    return channel;
  }

  const masters = (): string[] => cluster.masters.map((m) => m.address);

  const ready = Promise.all([given ? undefined : cluster.connect(), subscriber.connect()]).then(
    async () => {
      await assertShardedRedis((args) => cluster.sendCommand(undefined, true, args));
      for (const master of masters()) await probeChannel(master);
      hookMoves(subscriber);
      started = true;
    },
  );
  ready.catch(onError);

  return {
    publisher: {
      ...commands(cluster),
      withCommandOptions: (options) => commands(cluster.withCommandOptions(options)),
    },
    subscriber: () => subscriber,
    ready,
    silent: () => silent,
    async probe(timeoutMs) {
      const tokens = new Map<string, () => void>();
      const pending = new Map<string, string>();
      let timer: NodeJS.Timeout | undefined;
      const all = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        for (const master of masters()) {
          const token = `${master} ${randomBytes(4).toString('hex')}`;
          pending.set(token, master);
          tokens.set(token, () => {
            pending.delete(token);
            if (pending.size === 0) resolve();
          });
        }
      });
      waiting = tokens;
      hookMoves(subscriber);
      try {
        for (const [token, master] of pending) {
          // Not awaited: a subscribe or a publish stuck on a dead connection only leaves its
          // master silent when the time is up.
          probeChannel(master)
            .then((channel) =>
              cluster
                .withCommandOptions({ abortSignal: AbortSignal.timeout(timeoutMs) })
                .sPublish(channel, token),
            )
            .catch(() => undefined);
        }
        await all;
        silent = [...pending.values()];
        return silent.length === 0;
      } finally {
        clearTimeout(timer);
        waiting = undefined;
      }
    },
    async recycle(patterns) {
      if (!started) return;
      const fresh = watch(cluster.duplicate());
      const freshProbes = new Set<string>();
      try {
        await fresh.connect();
        for (const master of masters()) await probeChannel(master, fresh, freshProbes);
        for (const { listening, listener } of patterns) await listen(fresh, listening, listener);
        hookMoves(fresh);
      } catch (err) {
        fresh.destroy();
        throw err;
      }
      if (!started) {
        fresh.destroy();
        return;
      }
      watchSubscriber(fresh);
      const old = subscriber;
      subscriber = fresh;
      probing = freshProbes;
      silent = [];
      old.destroy();
    },
    async close(closeTimeoutMs) {
      started = false;
      closing = true;
      // A cluster client we were given stays open; only our subscriber goes.
      const ours = given ? [subscriber] : [cluster, subscriber];
      await Promise.all(ours.map((client) => closeClient(client, closeTimeoutMs)));
    },
  };
}
