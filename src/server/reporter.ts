import { EventrailError, type EventrailErrorCode } from '../errors.js';
import type { Logger, Principal, ServerHooks } from '../types.js';
import { Outage, seconds } from '../util/outage.js';
import { toError } from '../util/to-error.js';

/** Refused logins and limits are routine (debug, warn); anything else is an error. */
const LEVELS: Partial<Record<EventrailErrorCode, 'debug' | 'warn'>> = {
  unauthorized: 'debug',
  'limit-exceeded': 'warn',
};

/** The hooks other than `onError`, which the reporter calls for errors. */
export type HookName<P extends Principal> = Exclude<keyof ServerHooks<P>, 'onError'>;

/**
 * Where a server tells what happened: errors to the logger (at a level by code) and to `onError`,
 * the other hooks guarded so that a hook that throws never breaks delivery, and streams refused
 * for the broker once per outage rather than once per request.
 */
export class Reporter<P extends Principal> {
  readonly #refusals: Outage;

  constructor(
    private readonly hooks: ServerHooks<P>,
    private readonly logger: Logger | undefined,
    outageReminderMs: number,
  ) {
    this.#refusals = new Outage(outageReminderMs, (r) => {
      if (r.kind === 'back') {
        this.logger?.info(
          { refused: r.failures, downForMs: r.downForMs },
          `eventrail: new streams open again after ${seconds(r.downForMs)} (${r.failures} refused meanwhile)`,
        );
        return;
      }
      const message =
        r.kind === 'down'
          ? 'A new stream was told to retry later: the broker did not serve it. Further refusals are counted in stats().refused.broker until streams open again.'
          : `${r.failures} new streams refused over ${seconds(r.downForMs)}: the broker does not serve them.`;
      this.report(new EventrailError('broker-error', message, { cause: r.error }));
    });
  }

  /** An error with no caller to throw to: logged, and handed to `onError`. */
  readonly report = (error: unknown): void => {
    const err = toError(error);
    if (this.logger) {
      const code = err instanceof EventrailError ? err.code : undefined;
      const level = (code && LEVELS[code]) ?? 'error';
      try {
        this.logger[level]({ err, code }, `eventrail: ${err.message}`);
      } catch {
        // A broken logger must not break delivery.
      }
    }
    try {
      this.hooks.onError?.(err);
    } catch {
      // onError itself failed: there is nobody left to tell, and a hook must never break delivery.
    }
  };

  /** Calls a hook; one that throws is reported as `hook-failed`. */
  hook<K extends HookName<P>>(name: K, ...args: Parameters<NonNullable<ServerHooks<P>[K]>>): void {
    const fn = this.hooks[name] as ((...a: typeof args) => void) | undefined;
    if (fn === undefined) return;
    try {
      fn(...args);
    } catch (err) {
      this.report(new EventrailError('hook-failed', `The ${name} hook threw.`, { cause: err }));
    }
  }

  /** A `debug` line, when there is a logger; one that throws is ignored (it runs inside closing). */
  debug(fields: object, message: string): void {
    try {
      this.logger?.debug(fields, message);
    } catch {
      // A broken logger must not break opening or closing a stream.
    }
  }

  /** A stream was refused because the broker did not serve it. */
  brokerRefused(error: unknown): void {
    this.#refusals.failure(toError(error));
  }

  /** A stream opened: streams refused for the broker (if any) are over. */
  brokerServed(): void {
    this.#refusals.recovered();
  }
}
