import type { Connection } from '../fanout/connection.js';
import { Frame } from '../fanout/frame.js';
import type { Hub } from '../fanout/hub.js';
import type { BrokerPresence, Principal } from '../types.js';
import { connectionId } from '../util/connection-id.js';
import { Debounce } from '../util/debounce.js';
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
  /** This instance's first id in the broker's presence (a new one if it is ever counted out). */
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

/**
 * How long the broker keeps an entry without a write or a touch: only what a dead instance left in
 * a scope nobody reads again waits this long (readers delete it at once). A live instance touches
 * each of its entries once per half of it, spread over the intervals.
 */
const KEEP_MS = 24 * 60 * 60 * 1000;

/**
 * This instance's presence: its streams counted per scope and user (tabs and shared streams
 * count once), the broker written only when a user's first stream in a scope opens or its last
 * one closes (batched per tick), its alive mark renewed once per interval (whatever its scopes),
 * and the debounced `eventrail.presence` events. Owns the counts, the pending writes, the id it
 * writes under and the timers. Counted out (its mark expired: a stall, or the broker lost its
 * data), it writes everything again under a new id.
 */
export class Presence<P extends Principal> {
  /** scope -> user -> open streams of that user in the scope on this instance */
  readonly #local = new Map<string, Map<string, number>>();
  /**
   * Scopes the broker holds an entry of this instance for (what a change is `fresh` against), with
   * when it was last made to live {@link KEEP_MS} more; the oldest first.
   */
  readonly #written = new Map<string, number>();
  /** The id this instance writes under. */
  #instance: string;
  /** Whether this instance's alive mark was written (and renewed since, as far as it knows). */
  #marked = false;
  /** Writes that failed, tried again (as far as they still hold) with the next refresh. */
  #failed: Array<{ key: string } & Pending> = [];
  /** The mark being written, for the flushes that wait for it. */
  #marking: Promise<void> | undefined;
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
    this.#instance = ctx.instance;
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

  /**
   * Once per interval: renews this instance's alive mark (one write, whatever its scopes), and
   * touches the few entries that are due. With nothing written, the mark lapses.
   */
  async refresh(): Promise<void> {
    if (this.#stopped) return;
    if (this.#written.size === 0 && this.#pending.size === 0 && this.#failed.length === 0) {
      this.#marked = false;
      return;
    }
    try {
      await this.#mark();
      this.#retryFailed();
      await this.#touchDue();
    } catch (err) {
      this.ctx.report(err);
    }
  }

  /** Writes (or renews) the alive mark; finding it gone on a renewal means this id was counted out. */
  #mark(): Promise<void> {
    this.#marking ??= (async () => {
      try {
        const renew = this.#marked;
        const held = await this.ctx.store.alive(this.#instance, this.ctx.options.ttlMs, renew);
        this.#marked = true;
        if (!held) this.#comeBack();
      } finally {
        this.#marking = undefined;
      }
    })();
    return this.#marking;
  }

  /**
   * Readers counted this instance out and may have deleted its entries: it writes all of them
   * again, under a new id (an id counted out is never written again, see BrokerPresence).
   */
  #comeBack(): void {
    this.#instance = connectionId();
    this.#marked = false;
    this.#written.clear();
    this.#failed = [];
    for (const key of this.#local.keys()) this.#rewrite(key);
  }

  /** Queues every local user of a scope for writing, as when the broker lost that entry. */
  #rewrite(key: string): void {
    for (const user of this.#local.get(key)?.keys() ?? []) this.#change(key, user, 'add');
  }

  /** Queues again what failed writes were to say, as far as it still holds. */
  #retryFailed(): void {
    const failed = this.#failed;
    this.#failed = [];
    for (const { key, add, remove } of failed) {
      const users = this.#local.get(key);
      for (const user of add) if (users?.has(user)) this.#change(key, user, 'add');
      for (const user of remove) if (!users?.has(user)) this.#change(key, user, 'remove');
    }
  }

  /**
   * Touches the entries last made to live more than half of {@link KEEP_MS} ago, at most a share
   * per interval (all of them within a quarter of it), and writes again the ones found gone.
   */
  async #touchDue(): Promise<void> {
    const now = Date.now();
    const share = Math.ceil((this.#written.size * this.ctx.options.intervalMs) / (KEEP_MS / 4));
    const due: string[] = [];
    for (const [key, at] of this.#written) {
      if (now - at < KEEP_MS / 2 || due.length >= share) break;
      if (!this.#pending.has(key)) due.push(key);
    }
    if (due.length === 0) return;
    for (const key of due) {
      this.#written.delete(key);
      this.#written.set(key, now);
    }
    const lost = await this.ctx.store.touch(this.#instance, due, KEEP_MS);
    for (const key of lost) {
      if (!this.#pending.has(key) && this.#written.delete(key)) this.#rewrite(key);
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
    if (this.#stopped) return;
    // Readers count only the entries of instances whose mark holds: the mark goes first.
    if (!this.#marked) {
      try {
        await this.#mark();
      } catch (err) {
        // Written with the next refresh's mark; the entries are written meanwhile.
        this.ctx.report(err);
      }
    }
    const batch = [...this.#pending];
    this.#pending.clear();
    if (this.#stopped) return;
    const instance = this.#instance;
    await Promise.all(
      batch.map(async ([key, { add, remove }]) => {
        if (add.size === 0 && remove.size === 0) return;
        const empty = !this.#local.has(key);
        const fresh = !this.#written.has(key);
        if (empty) this.#written.delete(key);
        else if (fresh) this.#written.set(key, Date.now());
        try {
          await this.ctx.store.update(instance, key, {
            add: [...add],
            remove: [...remove],
            fresh,
            empty,
            keepMs: KEEP_MS,
          });
        } catch (err) {
          // Tried again with the next refresh (fresh again if it was: the entry may not exist).
          if (fresh && instance === this.#instance) this.#written.delete(key);
          this.#failed.push({ key, add, remove });
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
    const written = [...this.#written.keys()];
    this.#written.clear();
    await Promise.allSettled(
      written.map((key) =>
        this.ctx.store.update(this.#instance, key, {
          add: [],
          remove: [...(this.#local.get(key)?.keys() ?? [])],
          fresh: false,
          empty: true,
          keepMs: KEEP_MS,
        }),
      ),
    );
    this.#local.clear();
  }
}
