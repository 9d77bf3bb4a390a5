/**
 * A deadline that reads the I/O already waiting before it expires: `expire` runs once `ms` have
 * passed and the event loop has polled its sockets since (an immediate runs after the poll phase;
 * a timer before it). A loop blocked past the deadline, by a reconnect storm's replays say, would
 * otherwise run the timer before reading a reply or a message that came in time, and judge a
 * healthy connection deaf. Returns a function that cancels it.
 */
export function ioDeadline(ms: number, expire: () => void): () => void {
  let immediate: NodeJS.Immediate | undefined;
  const timer = setTimeout(() => {
    immediate = setImmediate(expire);
  }, ms);
  return () => {
    clearTimeout(timer);
    if (immediate !== undefined) clearImmediate(immediate);
  };
}
