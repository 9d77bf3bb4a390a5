/**
 * The Redis broker's live subscriptions: each listens on the current subscriber connection,
 * reads what arrives in its channel mode, and is told of a gap (a reconnect, a replaced
 * subscriber, a moved slot) so that its scope recovers from the history. While a scope's shard
 * channel moves to another master, its messages are held back until the gap is told.
 */
import { EventrailError } from '../errors.js';
import type { BrokerMessage, BrokerSubscription } from '../types.js';
import { toError } from '../util/to-error.js';
import type { Deadlines } from './deadlines.js';
import type { RedisConnection, Resubscription } from './redis-connection.js';
import {
  type Listening,
  listen,
  listening,
  type RedisPubSubListener,
  unlisten,
} from './redis-modes.js';
import type { RedisSettings } from './redis-settings.js';

/** A broker subscription as the broker keeps it. */
interface Live extends Resubscription {
  readonly onGap?: (() => void) | undefined;
  /** Messages held back while the scope's shard channel moves to another master. */
  held?: Array<[payload: string, redisChannel: string]>;
}

export class Subscriptions {
  readonly #live = new Set<Live>();
  #closed = false;
  #heard = 0;

  constructor(
    private readonly connection: RedisConnection,
    private readonly settings: Pick<RedisSettings, 'channels' | 'prefix' | 'onError'>,
    private readonly deadlines: Deadlines,
  ) {}

  /**
   * Messages the subscriptions received so far, on any subscriber: the liveness probe tells a
   * subscriber that is behind (still reading a burst) from one that is deaf.
   */
  get heard(): number {
    return this.#heard;
  }

  /** What to put back on a fresh subscriber. */
  entries(): Iterable<Resubscription> {
    return this.#live;
  }

  /** Every subscription may have missed messages: each recovers from the history. */
  gap(): void {
    for (const entry of this.#live) this.#guard(() => entry.onGap?.());
  }

  /**
   * `channel` leaves its master (every channel when undefined: the subscriber is being replaced):
   * its messages wait until {@link release}.
   */
  hold(channel?: string): void {
    for (const entry of this.#live)
      if (channel === undefined || entry.listening.name === channel) entry.held ??= [];
  }

  /**
   * `channel` (every channel when undefined) is subscribed afresh: unless the whole subscriber was
   * replaced and every scope told of its gap already (`recovered`), its subscriptions are told of
   * the gap, and the messages held meanwhile follow it, so that none advances the scope past what
   * it missed.
   */
  release(channel: string | undefined, recovered: boolean): void {
    for (const entry of this.#live) {
      const held = entry.held;
      if ((channel !== undefined && entry.listening.name !== channel) || held === undefined)
        continue;
      entry.held = undefined;
      if (!recovered) this.#guard(() => entry.onGap?.());
      for (const [payload, redisChannel] of held) entry.listener(payload, redisChannel);
    }
  }

  /** Subscribes to `glob` (`gym:1:*`). */
  async subscribe(
    glob: string,
    onMessage: (message: BrokerMessage) => void,
    onGap?: () => void,
  ): Promise<BrokerSubscription> {
    this.#assertOpen();
    const { channels, prefix, onError } = this.settings;
    const target: Listening = listening(channels, prefix, glob, onError);
    const listener: RedisPubSubListener = (payload, redisChannel) => {
      this.#heard++;
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
      await this.connection.ready;
      await listen(this.connection.subscriber(), target, listener);
    } catch (err) {
      throw new EventrailError('broker-error', `Could not subscribe to ${target.name}.`, {
        cause: err,
      });
    }
    if (this.#closed) {
      // close() ran while the subscribe was in flight and could not see this listener: take it
      // off a client we were given (our own clients are being closed anyway).
      await this.connection.leave(entry).catch((err: unknown) => onError(toError(err)));
      throw new EventrailError('broker-closed', 'The Redis broker was closed while subscribing.');
    }
    this.#live.add(entry);
    return { unsubscribe: () => this.#unsubscribe(entry) };
  }

  async #unsubscribe(entry: Live): Promise<void> {
    if (!this.#live.delete(entry) || this.#closed) return;
    const { listening: target, listener } = entry;
    // While Redis is unreachable the command waits in the client's queue and runs when it
    // reconnects (until then a message can still reach the listener of a hub nobody holds,
    // which delivers it to no one): a server that is closing must not wait for that.
    const client = this.connection.subscriber();
    if (client.isReady === false) {
      unlisten(client, target, listener).catch(() => {});
      return;
    }
    await this.deadlines.bound(unlisten(client, target, listener), `unsubscribing ${target.name}`);
  }

  /** No subscription from now on; the ones there were, for the connection to take off. */
  close(): Live[] {
    this.#closed = true;
    const entries = [...this.#live];
    this.#live.clear();
    return entries;
  }

  #assertOpen(): void {
    if (this.#closed) throw new EventrailError('broker-closed', 'The Redis broker is closed.');
  }

  #guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.settings.onError(toError(err));
    }
  }
}
