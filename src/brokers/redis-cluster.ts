/**
 * The broker's connections to a Redis Cluster: one node-redis cluster client that publishes to
 * the master of each event's slot, and one that subscribes each scope's shard channel on the
 * master that owns it (node-redis follows a slot to its new owner; cluster-moves.ts tells the
 * broker when the subscription is in place there). A probe on every master (cluster-probe.ts)
 * finds a subscription that receives nothing; the subscriber is then replaced as a whole.
 */
import { randomBytes } from 'node:crypto';
import { createCluster } from 'redis';
import { EventrailError } from '../errors.js';
import { MoveFollower } from './cluster-moves.js';
import { ClusterProbe } from './cluster-probe.js';
import { clusterReady, missingInternals } from './node-redis-internals.js';
import {
  assertShardedRedis,
  type ConnectionEvents,
  closeClient,
  listenAll,
  type RedisCommands,
  type RedisConnection,
  replacementStep,
} from './redis-connection.js';

/** Where to find a Redis Cluster: some of its nodes (node-redis discovers the rest). @public */
export interface RedisClusterConfig {
  /** Nodes to discover the cluster from, e.g. `[{ url: 'redis://10.0.0.1:6379' }]`. */
  readonly rootNodes: ReadonlyArray<{ readonly url: string }>;
}

/** How a node connection of ours retries: like node-redis, until the broker closed. */
type ReconnectStrategy = (retries: number) => number | false;

const make = (config: RedisClusterConfig, reconnectStrategy?: ReconnectStrategy) =>
  createCluster({
    rootNodes: config.rootNodes.map(({ url }) => ({ url })),
    ...(reconnectStrategy ? { defaults: { socket: { reconnectStrategy } } } : {}),
  });
/** A node-redis cluster client (`createCluster({ rootNodes })` from `redis`). @public */
export type RedisClusterClient = ReturnType<typeof make>;
type Cluster = RedisClusterClient;

/** The key a raw command is routed by when the caller names none: the history's reads name it. */
function routingKey(args: readonly string[]): string | undefined {
  const name = args[0]?.toUpperCase();
  if (name === 'EVALSHA' || name === 'EVAL' || name === 'FCALL') return args[3];
  if (name === 'XRANGE' || name === 'XREVRANGE') return args[1];
  return undefined;
}

type ClusterCommands = Pick<Cluster, 'publish' | 'sPublish' | 'sendCommand'>;

function commands(cluster: ClusterCommands): RedisCommands {
  return {
    publish: (channel, message) => cluster.publish(channel, message),
    sPublish: (channel, message) => cluster.sPublish(channel, message),
    sendCommand: (args, key) => cluster.sendCommand(key ?? routingKey(args), false, args),
  };
}

/**
 * Connects to the cluster of `source`, or uses the cluster client given (left open; the broker
 * subscribes on a duplicate of its own).
 */
export function connectCluster(
  source: RedisClusterConfig | RedisClusterClient,
  events: ConnectionEvents,
  timeoutMs: number,
): RedisConnection {
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
      events.failure(new EventrailError('broker-error', 'Redis Cluster error.', { cause: err }));
    });
    client.on('node-error', (err: unknown, node: { host: string; port: number }) => {
      events.failure(
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
  let started = false;
  const id = randomBytes(8).toString('hex');
  const probe = new ClusterProbe(cluster, id);
  const moves = new MoveFollower<Cluster>(
    () => (started ? subscriber : undefined),
    events,
    timeoutMs,
    id,
  );

  /** Watches a subscriber: reconnections are gaps, moved channels are followed. */
  function watchSubscriber(client: Cluster): void {
    client.on('node-ready', () => {
      moves.hook(client);
      // What the node connection was subscribed to may have missed messages meanwhile.
      if (started) events.gap();
    });
    client.on('sharded-channel-moved-error', (err: unknown, channel: string) =>
      moves.failed(client, channel, err),
    );
  }
  watchSubscriber(subscriber);

  const ready = Promise.all([given ? undefined : cluster.connect(), subscriber.connect()]).then(
    async () => {
      await assertShardedRedis((args) => cluster.sendCommand(undefined, true, args));
      await probe.listen(subscriber);
      // Every master has a shard connection now: node-redis's fields can be checked.
      const missing = missingInternals(subscriber);
      if (missing.length > 0) {
        moves.disable();
        events.report(
          new EventrailError(
            'broker-error',
            `This node-redis has no ${missing.join(', ')}: slot moves of shard channels will not be followed, so a scope whose slot migrates may miss events without a resync. Use node-redis 5.x or 6.x.`,
          ),
        );
      }
      moves.hook(subscriber);
      started = true;
    },
  );
  ready.catch(events.failure);

  return {
    ready,
    sendsCommands: true,
    commands: (signal) =>
      commands(cluster.withCommandOptions({ abortSignal: signal, timeout: undefined })),
    subscriber: () => subscriber,
    isReady: () => clusterReady(cluster) && clusterReady(subscriber),
    silent: () => probe.silent,
    async probe(probeTimeoutMs) {
      moves.hook(subscriber);
      return probe.run(subscriber, probeTimeoutMs);
    },
    async replace({ subscriptions, signal }) {
      if (!started) return;
      const fresh = watch(cluster.duplicate());
      try {
        // During a failover the topology may still name the dead master: the connect waits for
        // it until the signal gives up (destroy() then stops its retries).
        await replacementStep(fresh.connect(), signal);
        await replacementStep(probe.listen(fresh), signal);
        await replacementStep(listenAll(fresh, subscriptions()), signal);
        moves.hook(fresh);
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
      probe.replaced();
      old.destroy();
    },
    leave: async () => {},
    async close(_subscriptions, closeTimeoutMs) {
      started = false;
      closing = true;
      // A cluster client we were given stays open; only our subscriber goes.
      const ours = given ? [subscriber] : [cluster, subscriber];
      await Promise.all(ours.map((client) => closeClient(client, closeTimeoutMs)));
    },
  };
}
