/**
 * A stand-in EventSource for the client's unit tests: a test plays the server by calling `emit`;
 * `StandIn.last` is the newest one the client made.
 */
export class StandIn extends EventTarget {
  static last: StandIn | undefined;
  readyState = 0;
  constructor(readonly url: string) {
    super();
    StandIn.last = this;
  }
  emit(type: string, data = '', lastEventId = ''): void {
    if (type === 'open') this.readyState = 1;
    this.dispatchEvent(
      type === 'open' ? new Event(type) : new MessageEvent(type, { data, lastEventId }),
    );
  }
  close(): void {
    this.readyState = 2;
  }
}

/** {@link StandIn} where the client takes an EventSource constructor. */
export const Source = StandIn as unknown as typeof EventSource;
/** The stream config the client's pieces are given. */
export const config = { url: 'https://app.test/events', withCredentials: false };
