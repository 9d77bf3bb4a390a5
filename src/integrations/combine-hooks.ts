import type { Principal, ServerHooks } from '../types.js';

type AnyHook = (...args: unknown[]) => void;

/**
 * One `hooks` object calling each of `all` in turn (skipping `undefined`), for the server's
 * single `hooks` option. Every hook runs even when an earlier one throws; then the first error
 * is rethrown (the server reports it to `onError`).
 *
 * @example
 * ```ts
 * createSseServer({ ...options, hooks: combineHooks(metrics.hooks, { onError: report }) });
 * ```
 * @public
 */
export function combineHooks<P extends Principal = Principal>(
  ...all: ReadonlyArray<ServerHooks<P> | undefined>
): ServerHooks<P> {
  const present = all.filter((hooks): hooks is ServerHooks<P> => hooks !== undefined);
  const combined: Record<string, AnyHook> = {};
  for (const name of new Set(present.flatMap((hooks) => Object.keys(hooks)))) {
    const calls = present.flatMap((hooks) => {
      const fn = (hooks as Record<string, unknown>)[name];
      return typeof fn === 'function' ? [{ hooks, fn: fn as AnyHook }] : [];
    });
    combined[name] = (...args) => {
      let failure: { error: unknown } | undefined;
      for (const { hooks, fn } of calls) {
        try {
          fn.apply(hooks, args);
        } catch (error) {
          failure ??= { error };
        }
      }
      if (failure) throw failure.error;
    };
  }
  return combined as ServerHooks<P>;
}
