import { EventrailError } from '../errors.js';
import type {
  Broker,
  BrokerHistory,
  BrokerMessage,
  BrokerSubscription,
  Principal,
} from '../types.js';
import { abortable } from '../util/abortable.js';
import { positionOf } from '../wire/event-ids.js';
import { Hub } from './hub.js';

/** What the registry tells the server about. */
export interface SubscriptionEvents<P extends Principal> {
  onMessage(hub: Hub<P>, message: BrokerMessage): void;
  /** The broker may have skipped messages of this hub. */
  onGap(hub: Hub<P>): void;
  onHubStarted(key: string): void;
  onHubStopped(key: string): void;
  onError(error: unknown): void;
}

/** A live hub with its broker subscription and the references held on it. */
interface LiveHub<P extends Principal> {
  readonly hub: Hub<P>;
  readonly subscription: BrokerSubscription;
  /** Connections that hold the hub (including those still being set up). */
  refs: number;
  idleTimer: NodeJS.Timeout | undefined;
}

/**
 * The reference-counted broker subscriptions of one server: one hub (and one broker
 * subscription) per scope, created when its first client arrives and dropped `idleTimeoutMs`
 * after its last client leaves. The references and timers are this registry's own state; a hub
 * only knows its connections.
 */
export class Subscriptions<P extends Principal = Principal> {
  readonly #live = new Map<string, LiveHub<P>>();
  readonly #starting = new Map<string, Promise<LiveHub<P>>>();
  #closed = false;

  constructor(
    private readonly broker: Broker,
    private readonly idleTimeoutMs: number,
    private readonly events: SubscriptionEvents<P>,
    /** Where a new hub's start position is read: the server's bounded reads, else the broker's. */
    private readonly history: Pick<BrokerHistory, 'position'> | undefined = broker.history,
  ) {}

  /** Hubs with a live subscription. */
  get size(): number {
    return this.#live.size;
  }

  /** References held on the hub of `key` (0 when it has no live subscription). */
  refs(key: string): number {
    return this.#live.get(key)?.refs ?? 0;
  }

  /**
   * Takes a reference on the hub of `key` (`gym:1`), subscribing first if nobody holds it.
   * Resolves once events of the scope are flowing. Pair every successful call with `release`.
   */
  async acquire(key: string): Promise<Hub<P>> {
    const existing = this.#live.get(key);
    if (existing !== undefined) return this.#take(existing);
    let starting = this.#starting.get(key);
    if (starting === undefined) {
      starting = this.#start(key);
      this.#starting.set(key, starting);
      // Whoever awaits gets the rejection; the map entry must go either way.
      starting.then(
        () => this.#starting.delete(key),
        () => this.#starting.delete(key),
      );
    }
    return this.#take(await starting);
  }

  /**
   * Takes a reference on the hub of every key of `keys`, in their order: all or none. Rejects
   * when one fails (the others are released) or when `signal` aborts first (the caller stopped
   * waiting for the broker): the subscriptions go on being made, and idle out like any that
   * nobody holds.
   */
  async acquireAll(keys: readonly string[], signal: AbortSignal): Promise<Hub<P>[]> {
    // One wait on `signal` for all the scopes, not one each (11 would warn of a listener leak).
    const settled = await abortable(
      Promise.allSettled(keys.map((key) => this.acquire(key))),
      signal,
      (results) => results,
      (late) => {
        for (const result of late) if (result.status === 'fulfilled') this.release(result.value);
      },
    );
    const hubs: Hub<P>[] = [];
    let failure: unknown;
    for (const result of settled) {
      if (result.status === 'fulfilled') hubs.push(result.value);
      else failure ??= result.reason;
    }
    if (failure !== undefined) {
      for (const hub of hubs) this.release(hub);
      throw failure;
    }
    return hubs;
  }

  /** Drops a reference; the last one starts the idle timer. */
  release(hub: Hub<P>): void {
    const live = this.#live.get(hub.key);
    if (live === undefined || live.hub !== hub) return;
    live.refs--;
    if (live.refs > 0) return;
    if (this.idleTimeoutMs === 0) {
      void this.#stop(live);
      return;
    }
    live.idleTimer = setTimeout(() => void this.#stop(live), this.idleTimeoutMs);
    // An idle subscription must not keep the process alive on its own.
    live.idleTimer.unref();
  }

  /**
   * Unsubscribes everything at once (shutdown). Subscriptions still being made are not waited
   * for (while the broker is unreachable they may take any time): each is dropped when it is made.
   */
  async closeAll(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#live.values()].map((live) => this.#stop(live)));
  }

  #take(live: LiveHub<P>): Hub<P> {
    live.refs++;
    clearTimeout(live.idleTimer);
    live.idleTimer = undefined;
    return live.hub;
  }

  async #start(key: string): Promise<LiveHub<P>> {
    const hub = new Hub<P>(key);
    const subscription = await this.broker.subscribe(
      hub.glob,
      (message) => this.events.onMessage(hub, message),
      () => this.events.onGap(hub),
    );
    if (this.#closed) {
      await subscription.unsubscribe().catch((err: unknown) => this.events.onError(err));
      throw new EventrailError('server-closed', `The server closed while subscribing to ${key}.`);
    }
    // Live from here on: the scope's newest position is where a recovery would start.
    const history = this.history;
    if (history) {
      try {
        const position = positionOf(await history.position(key));
        // A live event may have arrived meanwhile; never move backwards.
        if (position) hub.advance(position);
      } catch (err) {
        this.events.onError(err);
      }
    }
    const live: LiveHub<P> = { hub, subscription, refs: 0, idleTimer: undefined };
    this.#live.set(key, live);
    this.events.onHubStarted(key);
    return live;
  }

  async #stop(live: LiveHub<P>): Promise<void> {
    clearTimeout(live.idleTimer);
    live.idleTimer = undefined;
    if (this.#live.get(live.hub.key) !== live) return;
    this.#live.delete(live.hub.key);
    try {
      await live.subscription.unsubscribe();
    } catch (err) {
      this.events.onError(err);
    }
    this.events.onHubStopped(live.hub.key);
  }
}
