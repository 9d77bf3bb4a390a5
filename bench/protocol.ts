/** The IPC messages between the bench, its load workers and the system servers. */

export type ClientKind = 'sse' | 'sio';

/** Bench -> system server. */
export type ServerRequest =
  | {
      type: 'stats';
      gc: boolean;
      /**
       * Printed on the server's stdout with its clock (ms since it started, as V8's GC trace
       * counts): where a measured window starts and ends in a --trace-gc log (see bench/gc.ts).
       */
      mark?: 'start' | 'end';
    }
  /**
   * Memory broker only: publish in-process, through the server's own publisher. The events the
   * bench publishes in one of its ticks travel in one message, as a burst from Redis arrives in
   * one socket read: one IPC message per event would measure Node's IPC, not the server.
   */
  | { type: 'publish'; events: { channel: string; tick: Tick }[] };

/** System server -> bench. */
export type ServerReply =
  | { type: 'listening'; port: number }
  | {
      type: 'stats';
      rss: number;
      heapUsed: number;
      external: number;
      cpuUs: number;
      /** Open TCP sockets of the process (clients and Redis). */
      sockets: number;
      /** The longest event-loop delay since the last `mark: 'start'` (see bench/stalls.ts). */
      loopMaxMs: number;
    };

/** Bench -> stall probe (bench/probe.ts): restart its record, or read it. */
export type ProbeRequest = { type: 'reset' } | { type: 'read' };
/** Stall probe -> bench: the longest delay of its idle loop since the last reset. */
export type ProbeReply = { type: 'delay'; maxMs: number };

/** Bench -> load worker. */
export type WorkerRequest =
  | { type: 'connect'; kind: ClientKind; port: number; scopes: number[]; concurrency: number }
  /**
   * Resets counters and the latency histogram; with `fromSeq`, deliveries of events published
   * before it (a warm-up's, still arriving) are not counted from then on.
   */
  | { type: 'reset'; fromSeq?: number }
  | { type: 'report' }
  | {
      type: 'churn';
      kind: ClientKind;
      port: number;
      perSec: number;
      durationMs: number;
      holdMs: number;
      scopes: number;
    }
  | { type: 'close' };

export interface WorkerReport {
  type: 'report';
  deliveries: number;
  frames: number;
  bytes: number;
  /** Latency histogram: its non-empty buckets as bucket, count, bucket, count... */
  hist: number[];
  cpuUs: number;
  /** Connections that ended while they should be open. */
  dropped: number;
  /** The longest event-loop delay since the last reset (see bench/stalls.ts). */
  loopMaxMs: number;
}

/** Load worker -> bench. */
export type WorkerReply =
  | { type: 'ready'; connected: number; failed: number; error?: string }
  /** Event seqs every connection of this worker has received. */
  | { type: 'done'; seqs: number[] }
  | WorkerReport
  | { type: 'churned'; opened: number; completed: number; failed: number; error?: string }
  | { type: 'closed' };

/** The bench payload data: a sequence number and the publish time (µs, monotonic clock). */
export interface Tick {
  s: number;
  t: number;
}

/** Microseconds on the machine-wide monotonic clock (CLOCK_MONOTONIC: same in every process). */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** The channel of scope `n` and the bench's event type. */
export const channelOf = (scope: number): string => `bench:${scope}:tick`;
export const EVENT_TYPE = 'bench.tick';
/** eventrail's payload contract, which the floor and the better-sse bridge read too. */
export const payloadOf = (tick: Tick): string =>
  `{"event_type":"${EVENT_TYPE}","data":{"s":${tick.s},"t":${tick.t}}}`;
