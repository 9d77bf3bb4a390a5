/** The IPC messages between the bench and the storm scenario's client processes (clients.ts). */

/** Bench -> client process. */
export type StormRequest =
  /**
   * Open `count` streams, the n-th on scope `(offset + n) % scopes + 1`, on `ports[home]`; they
   * come back through the round robin over all `ports`. The survivor's own streams are then in
   * processes of their own, whose timings the storm's replays do not delay.
   */
  | { type: 'open'; ports: number[]; home: number; count: number; offset: number; scopes: number }
  /** A stream that ends waits for `release` (true) or reconnects after its `retry:` (false). */
  | { type: 'hold'; hold: boolean }
  /** Held streams reconnect now, all at once. */
  | { type: 'release' }
  /** From now on, latency counts only on streams that never left `port` (the survivor), of events published from now on. */
  | { type: 'measure'; port: number }
  | { type: 'report' };

/** What one client process saw. */
export interface StormReport {
  type: 'report';
  streams: number;
  /** Streams that lost their connection and came back (on any port) and are live again. */
  moved: number;
  live: number;
  /** The latest moment (nowUs) a moved stream became live, 0 when none. */
  lastLiveUs: number;
  /** The latest moment (nowUs) a moved stream's reconnection was answered (its head), 0 when none. */
  lastOpenedUs: number;
  /** Events a stream never got (a jump in its scope's seq), and got twice. */
  lost: number;
  duplicates: number;
  resyncs: number;
  reconnects: number;
  /** Connection attempts that failed (refused, or a non-200 answer). */
  failedAttempts: number;
  /** CPU time this process has used (user + system), µs. */
  cpuUs: number;
  /** Latency of the survivor's own streams since `measure` (bench/hist.ts pairs). */
  hist: number[];
}

/** Client process -> bench. */
export type StormReply = { type: 'ready' } | { type: 'opened'; open: number } | StormReport;
