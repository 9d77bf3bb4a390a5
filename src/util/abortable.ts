/**
 * Waits for `promise` unless `signal` aborts first, then rejects with the signal's reason. What
 * the promise resolves to goes to `take` while someone waits for it, or to `late` once nobody
 * does (so that a reference taken for a waiter who gave up is handed back).
 */
export function abortable<T, R>(
  promise: Promise<T>,
  signal: AbortSignal,
  take: (value: T) => R,
  late: (value: T) => void,
): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    let waiting = true;
    const onAbort = (): void => {
      waiting = false;
      reject(signal.reason);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        if (!waiting) {
          late(value);
          return;
        }
        waiting = false;
        resolve(take(value));
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        waiting = false;
        reject(err);
      },
    );
  });
}
