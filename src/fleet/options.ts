import { EventrailError } from '../errors.js';
import type { Principal } from '../types.js';
import { wholeNumber } from '../util/whole-number.js';

/**
 * Presence options (`presence: true` takes every default).
 * @public
 */
export interface PresenceOptions {
  /**
   * How often each instance renews its alive mark in the broker: one Redis command per interval,
   * whatever its scopes and streams (plus, spread over the intervals, a touch of each scope's
   * entry once every 12 hours). An instance that dies leaves the presence within
   * `3 × intervalMs`. @defaultValue `10000`
   */
  intervalMs?: number;
  /**
   * Write `eventrail.presence` events to the scopes' streams: `data` is
   * `{"scope":"gym:1","count":3,"users":["1","2","3"]}` (users sorted, at most `roster`).
   * @defaultValue `false`
   */
  events?: boolean;
  /**
   * The longest a change waits before it is told: changes within it make one event (and one
   * presence read per instance), so a thousand joins in a second make about `1000 / debounceMs`
   * events, never one each. @defaultValue `500`
   */
  debounceMs?: number;
  /** The most user ids an `eventrail.presence` event carries (`count` is always whole). @defaultValue `100` */
  roster?: number;
}

/**
 * The server's fleet options: revocation and presence.
 * @public
 */
export interface FleetOptions<P extends Principal = Principal> {
  /**
   * The keys of a principal that `revoke({ scope, key })` can name besides its user id: a session
   * id, a role, a device. Called once per stream when it opens. @defaultValue none
   */
  revocationKeys?: ((principal: P) => readonly string[]) | undefined;
  /**
   * Every this many ms, re-runs the resolver (on the stream's original request: its cookies and
   * headers) and the router for every open stream, and closes (reason `revoked`) the streams whose
   * principal is refused, is another user, or whose routes changed. 0: never. Costs one resolver
   * call per stream per interval, at most 16 at once. @defaultValue `0`
   */
  reauthorizeIntervalMs?: number;
  /**
   * Keep who is connected to each scope in the broker (`server.presence(scope)`), and with
   * `events` tell the scopes' streams. @defaultValue off
   */
  presence?: boolean | PresenceOptions | undefined;
}

/** Presence options with their defaults, or undefined when presence is off. */
export interface ResolvedPresence {
  readonly intervalMs: number;
  readonly ttlMs: number;
  readonly events: boolean;
  readonly debounceMs: number;
  readonly roster: number;
}

export interface ResolvedFleet<P extends Principal> {
  readonly revocationKeys: ((principal: P) => readonly string[]) | undefined;
  readonly reauthorizeIntervalMs: number;
  readonly presence: ResolvedPresence | undefined;
}

export const PRESENCE_DEFAULTS = { intervalMs: 10_000, debounceMs: 500, roster: 100 } as const;

function invalid(message: string): never {
  throw new EventrailError('invalid-option', message);
}

/** @throws {@link EventrailError} `invalid-option` */
export function resolveFleet<P extends Principal>(options: FleetOptions<P>): ResolvedFleet<P> {
  const { revocationKeys } = options;
  if (revocationKeys !== undefined && typeof revocationKeys !== 'function')
    invalid('revocationKeys must be a function (principal) => string[].');
  const given = options.presence;
  let presence: ResolvedPresence | undefined;
  if (given === true || (given !== null && typeof given === 'object')) {
    const o: PresenceOptions = given === true ? {} : given;
    const intervalMs = wholeNumber(
      'presence.intervalMs',
      o.intervalMs,
      PRESENCE_DEFAULTS.intervalMs,
      50,
    );
    if (o.events !== undefined && typeof o.events !== 'boolean')
      invalid('presence.events must be a boolean.');
    presence = {
      intervalMs,
      ttlMs: intervalMs * 3,
      events: o.events ?? false,
      debounceMs: wholeNumber(
        'presence.debounceMs',
        o.debounceMs,
        PRESENCE_DEFAULTS.debounceMs,
        10,
      ),
      roster: wholeNumber('presence.roster', o.roster, PRESENCE_DEFAULTS.roster),
    };
  } else if (given !== undefined && given !== false) {
    invalid('presence must be true, false or { intervalMs?, events?, debounceMs?, roster? }.');
  }
  return {
    revocationKeys,
    reauthorizeIntervalMs: wholeNumber('reauthorizeIntervalMs', options.reauthorizeIntervalMs, 0),
    presence,
  };
}
