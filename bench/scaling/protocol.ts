/** The IPC messages between the bench and the scaling scenario's holder (bench/scaling/holder.ts). */

/** Bench -> holder. */
export type HolderRequest =
  /** Open scopes `from`..`to` (inclusive), each on instance `scope % instances`. */
  | { type: 'open'; from: number; to: number }
  /** Count and time, from now on, only events whose seq is `fromSeq` or more. */
  | { type: 'reset'; fromSeq: number }
  | { type: 'report' }
  /** Memory after a full GC. */
  | { type: 'memory' };

/** Holder -> bench. */
export type HolderReply =
  | { type: 'ready' }
  /** The reset is in force: events received from now on are counted against it. */
  | { type: 'reset' }
  | { type: 'opened'; scopes: number; failed: number; error?: string }
  | {
      type: 'report';
      /** Events received since the last reset (seq >= its fromSeq). */
      received: number;
      /** Publish-to-receive latency histogram (bench/hist.ts pairs). */
      hist: number[];
      cpuUs: number;
      /** onGap calls (a reconnect or a recycled subscription) and broker errors, since the start. */
      gaps: number;
      errors: number;
    }
  | { type: 'memory'; rss: number; heapUsed: number };
