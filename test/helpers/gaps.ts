/**
 * The fault-injection oracle: what a client received, and which acked events it lacks with no
 * resync at the gap.
 */

/** One line of a client's log: an event numbered by its publisher, or a resync. */
export type Entry =
  | { kind: 'event'; p: number; seq: number; id?: string; conn?: number }
  | { kind: 'resync'; id?: string; conn?: number };

/**
 * The acked events a client's log lacks with no resync at the gap: a missing event is covered only
 * by a resync the client received after the last event of that publisher it got before the missing
 * one, and before the first one it got after it. A resync anywhere else (the Redis kill resyncs
 * every client) says nothing about this gap.
 */
export function missed(log: readonly Entry[], acked: ReadonlyArray<{ p: number; seq: number }>) {
  const indexOf = new Map<string, number>();
  log.forEach((entry, index) => {
    if (entry.kind === 'event') indexOf.set(`${entry.p}:${entry.seq}`, index);
  });
  const maxSeq = new Map<number, number>();
  for (const { p, seq } of acked) maxSeq.set(p, Math.max(seq, maxSeq.get(p) ?? -1));
  const nearest = (p: number, from: number, step: 1 | -1, fallback: number): number => {
    const last = maxSeq.get(p) ?? -1;
    for (let s = from; s >= 0 && s <= last; s += step) {
      const index = indexOf.get(`${p}:${s}`);
      if (index !== undefined) return index;
    }
    return fallback;
  };
  const gaps: Array<{ p: number; seq: number }> = [];
  for (const { p, seq } of acked) {
    if (indexOf.has(`${p}:${seq}`)) continue;
    const before = nearest(p, seq - 1, -1, -1);
    const after = nearest(p, seq + 1, 1, log.length);
    const covered = log.some(
      (entry, index) => index > before && index < after && entry.kind === 'resync',
    );
    if (!covered) gaps.push({ p, seq });
  }
  return gaps;
}
