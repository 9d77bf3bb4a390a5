/**
 * Stalled streams: a connection whose socket stays congested, with no drain, for longer than its
 * bound is acted on even when no further event comes to judge it by. One timer for the whole
 * process, armed for the earliest deadline among the congested connections that are watched; a
 * connection that drains leaves the watch, so a client that reads never meets the timer.
 */

/** What the watch acts on: a connection. */
export interface Stallable {
  /** When (ms since epoch) it counts as stalled; undefined once it has drained. */
  readonly stallDeadline: number | undefined;
  /** The deadline passed without a drain. Called once per watch. */
  stalled(): void;
}

const watched = new Set<Stallable>();
let timer: NodeJS.Timeout | undefined;
let armedFor = Number.POSITIVE_INFINITY;

function sweep(): void {
  timer = undefined;
  armedFor = Number.POSITIVE_INFINITY;
  const now = Date.now();
  let next = Number.POSITIVE_INFINITY;
  for (const target of watched) {
    const deadline = target.stallDeadline;
    if (deadline === undefined) watched.delete(target);
    else if (deadline <= now) {
      watched.delete(target);
      target.stalled();
    } else next = Math.min(next, deadline);
  }
  arm(next);
}

function arm(deadline: number): void {
  if (deadline >= armedFor) return;
  if (timer !== undefined) clearTimeout(timer);
  armedFor = deadline;
  timer = setTimeout(sweep, Math.max(0, deadline - Date.now()));
  // A congested stream keeps its server alive anyway; the watch alone must not.
  timer.unref();
}

/** Watches `target` until it drains (its deadline becomes undefined) or {@link unwatchStall}. */
export function watchStall(target: Stallable): void {
  const deadline = target.stallDeadline;
  if (deadline === undefined) return;
  watched.add(target);
  arm(deadline);
}

/** Stops watching `target` (it drained or closed). */
export function unwatchStall(target: Stallable): void {
  watched.delete(target);
}
