/**
 * The slot-move follower of a cluster subscriber: when a scope's slot migrates, node-redis itself
 * subscribes its shard channel on the new master; this tells the broker when a move starts and
 * when the subscription is in place there (or could not be confirmed), so that the scope recovers
 * what was published in between. It reads node-redis's private fields only through
 * node-redis-internals.ts.
 */
import { EventrailError } from '../errors.js';
import { keySlot } from './cluster-slot.js';
import {
  type ClusterFields,
  type ShardConnection,
  shardConnections,
  shardListening,
} from './node-redis-internals.js';
import type { ConnectionEvents } from './redis-connection.js';
import type { RedisPubSubListener } from './redis-modes.js';

/** Follows the moves of the channels of the current subscriber. */
export class MoveFollower<C extends ClusterFields> {
  /** The shard connections (one per master) whose moves are followed. */
  readonly #hooked = new WeakSet<object>();
  /** The latest move of each channel being followed. */
  readonly #following = new Map<string, number>();
  #moves = 0;
  /** Off when node-redis lacks the fields the follower reads (reported at start-up). */
  #enabled = true;

  /**
   * @param current the subscriber whose moves count, or undefined before start and after close.
   * @param marker a channel name unique to this broker, subscribed to confirm a move.
   */
  constructor(
    private readonly current: () => C | undefined,
    private readonly events: Pick<ConnectionEvents, 'moving' | 'moved'>,
    private readonly timeoutMs: number,
    private readonly marker: string,
  ) {}

  /** Stops following: node-redis lacks what the follower reads. */
  disable(): void {
    this.#enabled = false;
  }

  /** Follows the moves on the shard connections of `client` not hooked yet. */
  hook(client: C): void {
    if (!this.#enabled) return;
    for (const shard of shardConnections(client)) {
      if (this.#hooked.has(shard)) continue;
      this.#hooked.add(shard);
      shard.on('sharded-channel-moved', (channel: string) => {
        if (client === this.current()) void this.#follow(client, channel);
      });
    }
  }

  /** node-redis could not subscribe `channel` on its new owner: its listeners are gone. */
  failed(client: C, channel: string, cause: unknown): void {
    if (client !== this.current()) return;
    this.#following.set(channel, ++this.#moves);
    this.events.moving(channel);
    this.events.moved(
      channel,
      new EventrailError('broker-error', `Could not follow ${channel} to its new master.`, {
        cause,
      }),
    );
  }

  async #follow(client: C, channel: string): Promise<void> {
    const move = ++this.#moves;
    this.#following.set(channel, move);
    this.events.moving(channel);
    let error: Error | undefined;
    try {
      await this.#settled(client, channel);
    } catch (err) {
      error = new EventrailError(
        'broker-error',
        `The subscription to ${channel} did not follow its slot to its new master within ${this.timeoutMs} ms.`,
        { cause: err },
      );
    }
    // A later move of the same channel ends this one.
    if (this.#following.get(channel) !== move) return;
    this.#following.delete(channel);
    if (this.current() !== undefined) this.events.moved(channel, error);
  }

  /**
   * Resolves once `channel` is subscribed on the master that owns its slot now: node-redis moved
   * its listeners there and Redis answered the SSUBSCRIBE. A channel of the same slot subscribed
   * on the same connection answers after it.
   */
  async #settled(client: C, channel: string): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    const slot = keySlot(channel);
    for (;;) {
      // Replaced or closed meanwhile: the new subscriber starts with a recovery of every scope.
      if (client !== this.current()) return;
      const shard: ShardConnection | undefined = await shardListening(client, slot, channel);
      if (shard !== undefined) {
        const marker = `${channel}:moved:${this.marker}`;
        const none: RedisPubSubListener = () => {};
        await shard.sSubscribe(marker, none);
        await shard.sUnsubscribe(marker, none);
        return;
      }
      if (Date.now() > deadline)
        throw new Error(`${channel} is not subscribed on slot ${slot}'s master`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
