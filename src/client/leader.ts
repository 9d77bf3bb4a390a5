/**
 * A shared stream without SharedWorker: the tabs elect one with the Web Locks API, which holds the
 * stream and relays it over a BroadcastChannel. When the leader goes (closed, navigated, crashed)
 * the next tab in the lock's queue takes over from the last event id the group saw.
 */
import { type HubPost, SharedHub } from './shared-hub.js';
import type { SourceConfig } from './source.js';
import type { Stream, StreamHandlers } from './stream.js';
import { holdTabLock, tabReceiver, whenTabGone } from './tab.js';
import type { EventSourceConstructor } from './types.js';
import { addressed, type HubMessage, type TabMessage, tabLockName } from './wire.js';

/** A tab answering another's hello: the names it listens to. */
type NamesMessage = { readonly t: 'names'; readonly tab: string; readonly names: string[] };

/** Joins (or leads) the group of `config.url`; undefined without Web Locks or BroadcastChannel. */
export function openLeader(
  Source: EventSourceConstructor,
  config: SourceConfig,
  names: readonly string[],
  tab: string,
  handlers: StreamHandlers,
  /** This tab's render position, `''` for none. */
  since = '',
): Stream | undefined {
  const locks = globalThis.navigator?.locks;
  if (locks === undefined || typeof BroadcastChannel !== 'function') return undefined;
  const key = `eventrail ${config.withCredentials ? 'credentials ' : ''}${config.url}`;
  const channel = new BroadcastChannel(key);
  /** The other tabs of the group and the names they listen to. */
  const group = new Map<string, Set<string>>();
  /**
   * The render positions of tabs no leader has served yet: a tab that comes to lead serves them
   * (a leader's join says so to every tab, see `joined`).
   */
  const unserved = new Map<string, string>();
  const mine = new Set(names);
  let lastEventId = '';
  let everOpen = false;
  let hub: SharedHub | undefined;
  let closed = false;
  /** This tab holds its lock and said hello. */
  let joined = false;
  const receive = tabReceiver(tab, handlers, (id) => {
    lastEventId = id;
  });
  const local = (message: HubMessage): void => {
    if (message.t === 'state' && message.state === 'open') everOpen = true;
    receive(message);
  };
  const post: HubPost = (message, to) => {
    const sent = addressed(message, to);
    channel.postMessage(sent);
    local(sent);
  };
  const send = (message: TabMessage | NamesMessage): void => channel.postMessage(message);

  function gone(other: string): void {
    if (!group.delete(other)) return;
    hub?.leave(other);
    send({ t: 'bye', tab: other });
  }

  function follow(other: string, names: readonly string[]): void {
    group.set(other, new Set(names));
    if (hub === undefined) return;
    const since = unserved.get(other);
    unserved.delete(other);
    hub.join(other, names, config, since);
    whenTabGone(tabLockName(other), () => gone(other));
  }

  channel.onmessage = (event: MessageEvent<TabMessage | NamesMessage | HubMessage>) => {
    const message = event.data;
    if (message.t === 'hello') {
      // Only once this tab holds its own lock: a leader watches that lock to count it out.
      if (joined) send({ t: 'names', tab, names: [...mine] });
      if (message.since) unserved.set(message.tab, message.since);
      follow(message.tab, message.names);
    } else if (message.t === 'names') {
      if (!group.has(message.tab)) group.set(message.tab, new Set(message.names));
    } else if (message.t === 'listen') {
      for (const name of message.names) group.get(message.tab)?.add(name);
      hub?.listen(message.tab, message.names);
    } else if (message.t === 'bye') {
      group.delete(message.tab);
      unserved.delete(message.tab);
      hub?.leave(message.tab);
    } else {
      if (message.t === 'tabs' && message.joined !== undefined) unserved.delete(message.joined);
      if (hub === undefined) local(message);
    }
  };

  function lead(): void {
    if (closed) return;
    hub = new SharedHub(Source, post, { lastEventId, resumed: everOpen });
    // The tabs learn at once that the stream they saw is gone; this one resumes from their last id.
    if (everOpen) {
      post({ t: 'connected', id: undefined });
      post({ t: 'state', state: 'reconnecting' });
    }
    hub.join(tab, [...mine], config, everOpen ? '' : since);
    for (const [other, names] of [...group]) follow(other, [...names]);
  }

  let release = (): void => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const releaseTab = holdTabLock(tabLockName(tab), () => {
    if (closed) return;
    joined = true;
    send({ t: 'hello', tab, names: [...mine], config, since });
    locks
      .request(key, () => {
        lead();
        return released;
      })
      .catch(() => {});
  });
  const onHide = (): void => send({ t: 'bye', tab });
  // Back from the back/forward cache: its pagehide said bye; it joins again with its id, from the
  // last event it saw (a leader's stream resumes by itself).
  const onShow = (event: PageTransitionEvent): void => {
    if (event.persisted && joined && hub === undefined) {
      send({ t: 'hello', tab, names: [...mine], config, since: lastEventId || since });
    }
  };
  globalThis.addEventListener?.('pagehide', onHide);
  globalThis.addEventListener?.('pageshow', onShow);

  return {
    listen(name) {
      if (mine.has(name)) return;
      mine.add(name);
      hub?.listen(tab, [name]);
      send({ t: 'listen', tab, names: [name] });
    },
    close() {
      if (closed) return;
      closed = true;
      globalThis.removeEventListener?.('pagehide', onHide);
      globalThis.removeEventListener?.('pageshow', onShow);
      send({ t: 'bye', tab });
      hub?.close();
      hub = undefined;
      release();
      releaseTab();
      channel.close();
    },
  };
}
