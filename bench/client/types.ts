/** What a client connection reports to the worker that owns it. */
export interface ConnEvents {
  open(): void;
  /** Failed before it opened. */
  fail(reason: string): void;
  /** Ended after it opened (not by us). */
  ended(): void;
  /** A bench event arrived: its seq and publish time (µs), received at `nowUs`. */
  tick(seq: number, sentUs: number, nowUs: number): void;
  /** Any SSE frame (events, comments, retry). */
  frames(n: number): void;
  bytes(n: number): void;
}

export interface Conn {
  close(): void;
}

export type Driver = (port: number, scope: number, events: ConnEvents) => Conn;
