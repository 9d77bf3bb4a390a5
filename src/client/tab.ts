/** A tab's end of a shared stream: what it does with the shared side's messages. */
import type { StreamHandlers } from './stream.js';
import type { HubMessage } from './wire.js';

/** Applies the shared side's messages to tab `tab`; `seen` gets every event id. */
export function tabReceiver(
  tab: string,
  handlers: StreamHandlers,
  seen: (id: string) => void = () => {},
): (message: HubMessage) => void {
  return (message) => {
    if (message.to !== undefined && message.to !== tab) return;
    switch (message.t) {
      case 'state':
        return handlers.state(message.state);
      case 'connected':
        if (message.at) seen(message.at);
        // This tab's origin names the shared connection and the tab, so that only it is skipped.
        return handlers.origin(message.id === undefined ? undefined : `${message.id}.${tab}`);
      case 'event':
        if (message.id) seen(message.id);
        if (message.skip === tab) return;
        return handlers.event({ name: message.name, data: message.data, lastEventId: message.id });
      case 'resync':
        if (message.id) seen(message.id);
        return handlers.resync(message.reason);
      case 'tabs':
        return handlers.tabs(message.count);
    }
  };
}

/**
 * Holds the lock named after tab `tab` until `release()`, so that the shared side learns when the
 * tab is gone, even by a crash; `held` runs once it is held (at once without Web Locks).
 */
export function holdTabLock(name: string, held: () => void): () => void {
  const locks = globalThis.navigator?.locks;
  if (locks === undefined) {
    held();
    return () => {};
  }
  let release = (): void => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  locks
    .request(name, () => {
      held();
      return released;
    })
    .catch(() => held());
  return release;
}

/** Calls `gone` once the tab holding the lock `name` has released it (closed, crashed). */
export function whenTabGone(name: string, gone: () => void): void {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  locks?.request(name, () => gone()).catch(() => {});
}
