import { setMaxListeners } from 'node:events';
import { EventrailError } from '../errors.js';

/** One stream waiting for the broker before it opens. */
export interface Opening {
  /** Aborts when the wait is over: after the server's `openTimeoutMs`, or on `close()`. */
  readonly signal: AbortSignal;
  /** The stream opened or was answered: stop its timer. Safe to call twice. */
  done(): void;
}

/**
 * New streams still waiting for the broker (their scopes' subscriptions, their history
 * positions). Each wait is bounded by `timeoutMs`, and `abortAll()` (shutdown) ends them all at
 * once, so that a request is answered in bounded time whatever the broker does.
 */
export class Openings {
  readonly #waiting = new Set<AbortController>();

  constructor(private readonly timeoutMs: number) {}

  /** Streams waiting right now. */
  get size(): number {
    return this.#waiting.size;
  }

  begin(): Opening {
    const controller = new AbortController();
    // One listener per scope subscribed while the stream opens (bounded by maxRoutesPerPrincipal),
    // not a leak: without this, 11 scopes print a MaxListenersExceededWarning.
    setMaxListeners(0, controller.signal);
    const timer = setTimeout(() => {
      controller.abort(
        new EventrailError(
          'broker-error',
          `The broker did not serve a new stream within openTimeoutMs (${this.timeoutMs} ms).`,
        ),
      );
    }, this.timeoutMs);
    timer.unref();
    this.#waiting.add(controller);
    return {
      signal: controller.signal,
      done: () => {
        clearTimeout(timer);
        this.#waiting.delete(controller);
      },
    };
  }

  /** Ends every wait now (shutdown): each request is answered with a `retry:`. */
  abortAll(): void {
    for (const controller of this.#waiting) {
      controller.abort(new EventrailError('server-closed', 'The server is closing.'));
    }
  }
}
