import type { Connection } from '../fanout/connection.js';
import { Frame } from '../fanout/frame.js';
import type { Hub } from '../fanout/hub.js';
import type { BrokerPresence, Principal } from '../types.js';
import { PRESENCE_EVENT } from '../wire/protocol.js';
import type { ResolvedPresence } from './options.js';

/** Who is connected to a scope, across the fleet. @public */
export interface ScopePresence {
  /** The scope, `gym:1`. */
  readonly scope: string;
  /** Distinct users with at least one open stream in the scope, on any live instance. */
  readonly count: number;
  /** Their ids (as text), sorted. */
  readonly users: readonly string[];
}

/** What presence needs from the server. */
export interface PresenceContext {
  readonly options: ResolvedPresence;
  readonly store: BrokerPresence;
  /** This instance's id in the broker's presence. */
  readonly instance: string;
  /** Tells the instances with streams in the scope that its presence changed. */
  announce(scopeKey: string): Promise<void>;
  report(error: unknown): void;
}

/** The writes of a scope waiting for the next flush. */
interface Pending {
  readonly add: Set<string>;
  readonly remove: Set<string>;
}

/** A debounce that fires at most once per `ms`: the first call starts it, later ones join it. */
class Debounce<T> {
  readonly #timers = new Map<string, NodeJS.Timeout>();
  constructor(
    private readonly ms: number,
    private readonly fire: (key: string, value: T) => void,
  ) {}
  touch(key: string, value: T): void {
    if (this.#timers.has(key)) return;
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      this.fire(key, value);
    }, this.ms);
    timer.unref();
    this.#timers.set(key, timer);
  }
  stop(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}

/**
 * This instance's presence: its streams counted per scope and user (tabs and shared streams
 * count once), the broker written only when a user's first stream in a scope opens or its last
 * one closes (batched per tick), one refresh per interval, and the debounced `eventrail.presence`
 * events. Owns the counts, the pending writes and the timers.
 */
export class Presence<P extends Principal> {
  /** scope -> user -> open streams of that user in the scope on this instance */
  readonly #local = new Map<string, Map<string, number>>();
  /** Scopes the broker holds an entry of this instance for (what a change is `fresh` against). */
  readonly #written = new Set<string>();
  readonly #pending = new Map<string, Pending>();
  readonly #announce: Debounce<undefined>;
  readonly #emit: Debounce<Hub<P>>;
  /** The last event written per scope, for the streams that open after it. */
  readonly #last = new Map<string, { data: string; frame: Frame }>();
  readonly #refresh: NodeJS.Timeout;
  #flushing = false;
  #stopped = false;

  constructor(private readonly ctx: PresenceContext) {
    const { debounceMs, intervalMs } = ctx.options;
    this.#announce = new Debounce(debounceMs, (key) => this.#announceNow(key));
    this.#emit = new Debounce(debounceMs, (key, hub) => void this.#emitNow(key, hub));
    this.#refresh = setInterval(() => void this.refresh(), intervalMs);
    this.#refresh.unref();
  }

  /** A stream of `connection` joined the scopes `keys`. */
  joined(connection: Connection<P>, keys: readonly string[]): void {
    const user = String(connection.principal.userId);
    for (const key of keys) {
      let users = this.#local.get(key);
      if (users === undefined) {
        users = new Map();
        this.#local.set(key, users);
      }
      const count = users.get(user) ?? 0;
      users.set(user, count + 1);
      if (count === 0) this.#change(key, user, 'add');
      // A stream that opens after the last event gets it at once; the others are told on a change.
      const last = this.#last.get(key);
      if (last && this.ctx.options.events) {
        const scope = keys.length === 1 ? 0 : keys.indexOf(key);
        connection.send(last.frame, scope);
      }
    }
  }

  /** A stream of `connection` left the scopes `keys`. */
  left(connection: Connection<P>, keys: readonly string[]): void {
    const user = String(connection.principal.userId);
    for (const key of keys) {
      const users = this.#local.get(key);
      const count = users?.get(user);
      if (users === undefined || count === undefined) continue;
      if (count > 1) {
        users.set(user, count - 1);
        continue;
      }
      users.delete(user);
      if (users.size === 0) {
        this.#local.delete(key);
        this.#last.delete(key);
      }
      this.#change(key, user, 'remove');
    }
  }

  /** The scope's presence across the fleet, read from the broker. */
  async read(scopeKey: string): Promise<ScopePresence> {
    const users = (await this.ctx.store.read(scopeKey)).sort();
    return { scope: scopeKey, count: users.length, users };
  }

  /** Another instance (or this one) says the presence of the hub's scope changed. */
  changed(hub: Hub<P>): void {
    if (this.ctx.options.events) this.#emit.touch(hub.key, hub);
  }

  /** Keeps this instance's entries alive; writes again the ones the broker lost. */
  async refresh(): Promise<void> {
    const scopes = [...this.#written].filter((key) => !this.#pending.has(key));
    if (scopes.length === 0 || this.#stopped) return;
    try {
      const lost = await this.ctx.store.refresh(this.ctx.instance, scopes, this.ctx.options.ttlMs);
      for (const key of lost) {
        if (this.#pending.has(key) || !this.#written.delete(key)) continue;
        for (const user of this.#local.get(key)?.keys() ?? []) this.#change(key, user, 'add');
      }
    } catch (err) {
      this.ctx.report(err);
    }
  }

  #change(key: string, user: string, kind: 'add' | 'remove'): void {
    let pending = this.#pending.get(key);
    if (pending === undefined) {
      pending = { add: new Set(), remove: new Set() };
      this.#pending.set(key, pending);
    }
    // A join and a leave of the same user in one tick cancel out.
    const other = kind === 'add' ? pending.remove : pending.add;
    if (!other.delete(user)) (kind === 'add' ? pending.add : pending.remove).add(user);
    if (!this.#flushing) {
      this.#flushing = true;
      setImmediate(() => void this.#flush());
    }
  }

  /** One broker write per scope for everything that changed in this tick. */
  async #flush(): Promise<void> {
    this.#flushing = false;
    const batch = [...this.#pending];
    this.#pending.clear();
    if (this.#stopped) return;
    await Promise.all(
      batch.map(async ([key, { add, remove }]) => {
        if (add.size === 0 && remove.size === 0) return;
        const empty = !this.#local.has(key);
        const fresh = !this.#written.has(key);
        if (empty) this.#written.delete(key);
        else this.#written.add(key);
        try {
          await this.ctx.store.update(this.ctx.instance, key, {
            add: [...add],
            remove: [...remove],
            fresh,
            empty,
            ttlMs: this.ctx.options.ttlMs,
          });
        } catch (err) {
          // Written again by the next refresh, which finds the entry missing.
          this.ctx.report(err);
        }
        // Told whether this server writes events or not: another instance may.
        this.#announce.touch(key, undefined);
      }),
    );
  }

  #announceNow(key: string): void {
    if (this.#stopped) return;
    this.ctx.announce(key).catch((err: unknown) => this.ctx.report(err));
  }

  /** Reads the scope's presence and writes it to the scope's streams here, if it changed. */
  async #emitNow(key: string, hub: Hub<P>): Promise<void> {
    if (this.#stopped) return;
    let presence: ScopePresence;
    try {
      presence = await this.read(key);
    } catch (err) {
      this.ctx.report(err);
      return;
    }
    const data = JSON.stringify({
      scope: key,
      count: presence.count,
      users: presence.users.slice(0, this.ctx.options.roster),
    });
    if (this.#last.get(key)?.data === data) return;
    const frame = Frame.of({ name: PRESENCE_EVENT, data }, undefined, hub.idTag);
    if (this.#local.has(key)) this.#last.set(key, { data, frame });
    for (const [connection, scope] of hub.members()) connection.send(frame, scope);
  }

  /** Stops the timers and takes this instance's entries out of the broker (shutdown). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#refresh);
    this.#announce.stop();
    this.#emit.stop();
    const written = [...this.#written];
    this.#written.clear();
    await Promise.allSettled(
      written.map((key) =>
        this.ctx.store.update(this.ctx.instance, key, {
          add: [],
          remove: [...(this.#local.get(key)?.keys() ?? [])],
          fresh: false,
          empty: true,
          ttlMs: this.ctx.options.ttlMs,
        }),
      ),
    );
    this.#local.clear();
  }
}
