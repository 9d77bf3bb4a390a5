/**
 * Every way eventrail refuses something. Match on `code`, not on the message.
 *
 * - `invalid-option`: a factory was given an option it cannot use (thrown at construction).
 * - `invalid-channel`: a publish channel is not `{scope}:{scope_id}:{topic}` or holds forbidden characters.
 * - `invalid-pattern`: a router returned a pattern that is not `{scope}:{scope_id}:{topic|*}`.
 * - `invalid-event-type`: an event type is empty, too long or holds CR, LF or NUL.
 * - `invalid-data`: event data cannot be serialised to JSON.
 * - `payload-too-large`: the serialised event is over `maxPayloadBytes`.
 * - `limit-exceeded`: a connection or route limit refused a request (reported through `onError`).
 * - `unauthorized`: the principal resolver refused the request (answered with 401).
 * - `broker-closed`: the broker was used after `close()`.
 * - `broker-error`: the broker (Redis) failed a publish or a subscription.
 * - `server-closed`: the SSE server was used after `close()`.
 * - `hook-failed`: a user hook threw; reported through `onError`, never thrown.
 * - `unsupported-runtime`: the runtime cannot keep a stream as asked (Bun's `Bun.serve` without its
 *   server passed to `sse.fetch`: see docs/runtimes.md).
 *
 * @public
 */
export type EventrailErrorCode =
  | 'invalid-option'
  | 'invalid-channel'
  | 'invalid-pattern'
  | 'invalid-event-type'
  | 'invalid-data'
  | 'payload-too-large'
  | 'limit-exceeded'
  | 'unauthorized'
  | 'broker-closed'
  | 'broker-error'
  | 'server-closed'
  | 'hook-failed'
  | 'unsupported-runtime';

/**
 * The one error class of eventrail.
 *
 * @example
 * ```ts
 * try {
 *   await publisher.publishType('gym:1', 'students.changed');
 * } catch (err) {
 *   if (err instanceof EventrailError && err.code === 'invalid-channel') {
 *     // fix the channel name
 *   }
 * }
 * ```
 * @public
 */
export class EventrailError extends Error {
  override readonly name = 'EventrailError';
  /** What went wrong, as a stable machine-readable code. */
  readonly code: EventrailErrorCode;

  constructor(code: EventrailErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** True when `err` is an {@link EventrailError}, optionally of the given code. @public */
export function isEventrailError(err: unknown, code?: EventrailErrorCode): err is EventrailError {
  return err instanceof EventrailError && (code === undefined || err.code === code);
}
