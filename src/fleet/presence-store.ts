/**
 * Where a broker keeps presence: for each scope, the users each instance has streams of. An
 * instance writes only its own changes (a user's first stream in a scope on this instance, its
 * last one leaving) and refreshes its entries once per interval; entries it no longer refreshes
 * (it died) are gone after `ttlMs`.
 * @public
 */
export interface BrokerPresence {
  /**
   * Instance `instance` now has streams of the users `add` in `scopeKey`, and none of `remove`.
   * `fresh`: it had none in the scope before (its entry is created and lives `ttlMs`).
   */
  update(instance: string, scopeKey: string, change: PresenceChange): Promise<void>;
  /**
   * Keeps the entries of `instance` in these scopes for another `ttlMs`. Resolves the scopes
   * whose entry was lost (the broker restarted, or it expired): the caller writes them again.
   */
  refresh(instance: string, scopeKeys: readonly string[], ttlMs: number): Promise<string[]>;
  /** The distinct users with a stream in the scope on any live instance. */
  read(scopeKey: string): Promise<string[]>;
}

/** One write of {@link BrokerPresence.update}. @public */
export interface PresenceChange {
  readonly add: readonly string[];
  readonly remove: readonly string[];
  /** The instance had no entry in the scope before this change. */
  readonly fresh: boolean;
  /** The instance has no user left in the scope after this change. */
  readonly empty: boolean;
  readonly ttlMs: number;
}
