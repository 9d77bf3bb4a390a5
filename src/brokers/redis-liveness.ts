/**
 * The Redis broker's liveness, for every topology: what its connection reports (failures,
 * reconnects, moved slots), the probe loop that finds a subscription that is open but receives
 * nothing, the replacement of such a subscriber, and the outage reports to `onError` and the
 * logger, once per transition.
 */
import { EventrailError } from '../errors.js';
import { ioDeadline } from '../util/io-deadline.js';
import { Outage, type OutageReport, seconds } from '../util/outage.js';
import { toError } from '../util/to-error.js';
import type { ConnectionEvents, RedisConnection } from './redis-connection.js';
import type { RedisSettings } from './redis-settings.js';
import type { Subscriptions } from './redis-subscriptions.js';

type Level = 'error' | 'warn' | 'info';

/**
 * A subscriber whose probes come back late while messages keep arriving is behind, not deaf, and
 * is left to catch up; for this many probe deadlines (`publishTimeoutMs`) at most, then replaced.
 */
const BEHIND_PROBES = 6;

/**
 * A replacement of the subscriber is given this many `publishTimeoutMs` (a connect, then a round
 * trip to subscribe everything); past that the fresh subscriber is dropped and the current one
 * kept. During a cluster's failover a fresh connect waits on the dead master for as long as the
 * topology names it: messages held for that long would stop every scope's live events.
 */
const REPLACE_DEADLINES = 2;

/** A connection error as one line: node-redis's message, without the stack. */
function reason(error: Error | undefined): string {
  return error?.message || error?.name || 'unknown error';
}

export class Liveness {
  /** What the connection tells: to pass to it when it is made. */
  readonly events: ConnectionEvents;
  readonly #outage: Outage;
  #closed = false;
  /** The last probe did not come back: the subscription is not trusted until it is replaced. */
  #probeFailed = false;
  /** A probe is under way: the next tick waits for it. */
  #probeRunning = false;
  /** Since when the probes have come back late while messages kept arriving (see #behind). */
  #behindSince: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #replacing: Promise<void> | undefined;
  #connection: RedisConnection | undefined;
  #subscriptions: Subscriptions | undefined;

  constructor(
    private readonly settings: Pick<
      RedisSettings,
      'reminderMs' | 'onError' | 'logger' | 'probeIntervalMs' | 'publishTimeoutMs'
    >,
  ) {
    this.#outage = new Outage(settings.reminderMs, (report) => this.#report(report));
    this.events = {
      failure: (error) => this.#failure(error),
      up: () => this.#checkUp(),
      gap: () => {
        this.#checkUp();
        this.#subscriptions?.gap();
      },
      report: (error) => {
        this.#log('error', { err: error }, `eventrail: ${error.message}`);
        settings.onError(error);
      },
      moving: (channel) => this.#subscriptions?.hold(channel),
      moved: (channel, error) => void this.#followed(channel, error),
    };
  }

  /** Watches `connection`, whose subscriptions are `subscriptions`; probes it when it can be. */
  start(connection: RedisConnection, subscriptions: Subscriptions): void {
    this.#connection = connection;
    this.#subscriptions = subscriptions;
    const { probeIntervalMs } = this.settings;
    if (connection.probe === undefined || probeIntervalMs <= 0) return;
    this.#timer = setInterval(() => void this.#tick(), probeIntervalMs);
    this.#timer.unref();
  }

  /** Whether the subscription is trusted: the last probe came back. */
  trusted(): boolean {
    return !this.#probeFailed;
  }

  /** The broker closed: no probe, no report from now on. */
  stop(): void {
    this.#closed = true;
    clearInterval(this.#timer);
  }

  #failure(error: Error): void {
    if (!this.#closed) this.#outage.failure(error);
  }

  /** Every connection ready and the last probe back: an outage is over. */
  #checkUp(): void {
    if (this.#probeFailed || this.#connection?.isReady() !== true) return;
    this.#outage.recovered();
  }

  async #tick(): Promise<void> {
    const connection = this.#connection;
    if (this.#probeRunning || this.#closed || connection?.probe === undefined) return;
    this.#probeRunning = true;
    const timeoutMs = this.settings.publishTimeoutMs;
    try {
      await connection.ready;
      const heard = this.#subscriptions?.heard ?? 0;
      if (await connection.probe(timeoutMs)) {
        this.#behindSince = undefined;
        this.#probeFailed = false;
        this.#checkUp();
        return;
      }
      if (this.#behind(connection, heard)) return;
      this.#probeFailed = true;
      // The probe may have waited through close(): nothing to replace then.
      if (this.#closed) return;
      const silent = connection.silent();
      const where = silent.length > 0 ? ` on ${silent.join(', ')}` : '';
      this.#failure(
        new EventrailError(
          'broker-error',
          `The Redis subscription receives nothing${where}: replacing it.`,
        ),
      );
      await this.#replace().catch((err: unknown) => {
        this.#failure(
          new EventrailError(
            'broker-error',
            'A fresh Redis subscriber could not be set up: the current one is kept and probed again.',
            { cause: err },
          ),
        );
      });
    } catch (err) {
      // Redis does not answer (paused, cut off, down): the subscription is not proven to
      // receive until a probe comes back. node-redis reconnects by itself.
      this.#probeFailed = true;
      this.#failure(
        new EventrailError(
          'broker-error',
          `Redis did not answer the liveness probe within ${timeoutMs} ms.`,
          { cause: err },
        ),
      );
    } finally {
      this.#probeRunning = false;
    }
  }

  /**
   * Whether a probe that did not come back in time found the subscriber behind rather than deaf:
   * messages kept arriving while it waited (a burst still being read, on a busy process; the probe's
   * message waits behind it), and not for longer than {@link BEHIND_PROBES} probe deadlines. A
   * cluster's probe that names the silent masters is never taken for one behind.
   */
  #behind(connection: RedisConnection, heardBefore: number): boolean {
    if ((this.#subscriptions?.heard ?? 0) === heardBefore || connection.silent().length > 0) {
      this.#behindSince = undefined;
      return false;
    }
    const now = Date.now();
    this.#behindSince ??= now;
    return now - this.#behindSince < BEHIND_PROBES * this.settings.publishTimeoutMs;
  }

  /**
   * Replaces the subscriber with a fresh one that listens to every live subscription; then every
   * subscription recovers from the history. One at a time, within {@link REPLACE_DEADLINES}
   * deadlines. Every subscription's messages are held from the moment the fresh subscriber is
   * connected and subscribes: a subscriber judged deaf may only be behind (a burst it has not read
   * yet), and the fresh one's first messages, newer than everything the old one left unread, would
   * otherwise move the scopes past what they missed before the recovery reads it. Not before: a
   * connect that waits (a failover under way) holds nothing back.
   */
  #replace(): Promise<void> {
    this.#replacing ??= (async () => {
      const subscriptions = this.#subscriptions;
      const ms = REPLACE_DEADLINES * this.settings.publishTimeoutMs;
      const deadline = new AbortController();
      const cancel = ioDeadline(ms, () =>
        deadline.abort(new Error(`the fresh subscriber was not ready within ${ms} ms`)),
      );
      try {
        const connection = this.#connection;
        if (!connection || !subscriptions) return;
        await connection.replace({
          subscriptions: () => {
            subscriptions.hold();
            return subscriptions.entries();
          },
          signal: deadline.signal,
        });
        this.#probeFailed = false;
        this.#checkUp();
      } finally {
        cancel();
        this.#replacing = undefined;
        // Replaced or not, every scope recovers from the history (read from now on, after the
        // fresh subscriptions were confirmed), then gets what was held.
        if (!this.#closed) subscriptions?.gap();
        subscriptions?.release(undefined, true);
      }
    })();
    return this.#replacing;
  }

  /**
   * A scope's shard channel moved to another master and is subscribed there now, or could not be
   * confirmed: then the whole subscriber is replaced. Its held messages follow the gap.
   */
  async #followed(channel: string, error?: Error): Promise<void> {
    let recovered = false;
    if (error && !this.#closed) {
      this.#outage.failure(error);
      try {
        await this.#replace();
        recovered = true;
      } catch (err) {
        this.settings.onError(toError(err));
      }
    }
    this.#subscriptions?.release(channel, recovered);
  }

  #log(level: Level, fields: object, message: string): void {
    try {
      this.settings.logger?.[level](fields, message);
    } catch {
      // A broken logger must not break the broker.
    }
  }

  #report(report: OutageReport): void {
    const fields = { failures: report.failures, downForMs: report.downForMs };
    if (report.kind === 'back') {
      this.#log(
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
    this.#log(
      report.kind === 'down' ? 'error' : 'warn',
      { ...fields, err },
      `eventrail: ${message}`,
    );
    this.settings.onError(err);
  }
}
