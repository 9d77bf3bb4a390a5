/**
 * `connect({ share: true })`: one stream for every tab of one origin and events URL. A SharedWorker
 * holds it where the browser has one; else the tabs elect a leader (Web Locks + BroadcastChannel,
 * see leader.ts); else each tab opens its own, as without `share`.
 */
import { openDirect } from './direct.js';
import { openLeader } from './leader.js';
import type { SourceConfig } from './source.js';
import type { Stream, StreamHandlers } from './stream.js';
import { holdTabLock, tabReceiver } from './tab.js';
import type { EventSourceConstructor, Sharing } from './types.js';
import { newTabId, type TabMessage, tabLockName } from './wire.js';

/** Where the SharedWorker script is, and how to load it. */
export interface WorkerScript {
  readonly url: string | URL;
  readonly type: WorkerType;
}

/** Everything a shared stream needs from connect(). */
export interface ShareRequest {
  readonly Source: EventSourceConstructor;
  readonly config: SourceConfig;
  /** The tab's render position, `''` for none. */
  readonly since: string;
  /** The names the tab listens to right now. */
  readonly names: () => string[];
  /** The SharedWorker script; undefined to skip straight to the leader election. */
  readonly worker: WorkerScript | undefined;
  readonly handlers: StreamHandlers;
  /** Tells which way the stream is shared; may change once if the worker fails to load. */
  readonly sharing: (sharing: Sharing) => void;
}

function openWorker(request: ShareRequest, tab: string, failed: () => void): Stream | undefined {
  const { worker: script, config, handlers } = request;
  if (script === undefined || typeof SharedWorker !== 'function') return undefined;
  /** The last event id this tab saw (its render position before any). */
  let seen = request.since;
  const receive = tabReceiver(tab, handlers, (id) => {
    seen = id;
  });
  let heard = false;
  /** A port to the worker (the running one, or a new one if the browser ended it). */
  const connect = (): MessagePort | undefined => {
    let worker: SharedWorker;
    try {
      worker = new SharedWorker(script.url, { name: `eventrail ${config.url}`, type: script.type });
    } catch {
      return undefined;
    }
    worker.port.onmessage = (event) => {
      heard = true;
      receive(event.data);
    };
    // The script did not load (404, wrong type, CSP): share another way.
    worker.onerror = () => {
      if (!heard) failed();
    };
    worker.port.start();
    return worker.port;
  };
  let port = connect();
  if (port === undefined) return undefined;
  const send = (message: TabMessage): void => port?.postMessage(message);
  const releaseTab = holdTabLock(tabLockName(tab), () =>
    send({ t: 'hello', tab, names: request.names(), config, since: request.since }),
  );
  const onHide = (): void => send({ t: 'bye', tab });
  // Back from the back/forward cache: its pagehide said bye, and the worker may be gone since.
  // The tab joins again with its id, from the last event it saw (what it missed, or a resync).
  const onShow = (event: PageTransitionEvent): void => {
    if (!event.persisted) return;
    port?.close();
    port = connect();
    send({ t: 'hello', tab, names: request.names(), config, since: seen });
  };
  globalThis.addEventListener?.('pagehide', onHide);
  globalThis.addEventListener?.('pageshow', onShow);
  return {
    listen: (name) => send({ t: 'listen', tab, names: [name] }),
    close() {
      globalThis.removeEventListener?.('pagehide', onHide);
      globalThis.removeEventListener?.('pageshow', onShow);
      send({ t: 'bye', tab });
      releaseTab();
      port?.close();
    },
  };
}

/** Opens a shared stream, the best way this browser allows. */
export function openShared(request: ShareRequest): Stream {
  const tab = newTabId();
  const { Source, config, handlers } = request;
  const withoutWorker = (): Stream => {
    const leader = openLeader(Source, config, request.names(), tab, handlers, request.since);
    request.sharing(leader === undefined ? 'none' : 'locks');
    return (
      leader ??
      openDirect(Source, { ...config, lastEventId: request.since }, request.names(), handlers)
    );
  };
  let closed = false;
  let stream: Stream | undefined = openWorker(request, tab, () => {
    if (closed || stream === undefined) return;
    stream.close();
    stream = withoutWorker();
  });
  if (stream !== undefined) request.sharing('worker');
  else stream = withoutWorker();
  return {
    listen: (name) => stream?.listen(name),
    close() {
      closed = true;
      stream?.close();
    },
  };
}
