/**
 * The SharedWorker script of a shared stream (`connect({ share: true })`): every tab of one origin
 * and one events URL connects to the same worker, which holds the one EventSource. Shipped as
 * `client.worker.min.js` beside the bundles; this module is its source.
 */
import { SharedHub } from './shared-hub.js';
import { whenTabGone } from './tab.js';
import { type HubMessage, type TabMessage, tabLockName } from './wire.js';

interface ConnectEvent {
  readonly ports: readonly MessagePort[];
}

const ports = new Map<string, MessagePort>();
let hub: SharedHub | undefined;

function post(message: HubMessage, tab?: string): void {
  if (tab !== undefined) ports.get(tab)?.postMessage(message);
  else for (const port of ports.values()) port.postMessage(message);
}

function leave(tab: string): void {
  if (!ports.delete(tab)) return;
  hub?.leave(tab);
  // The last tab left: nobody needs the stream (the browser ends the worker soon too).
  if (ports.size === 0) {
    hub?.close();
    hub = undefined;
  }
}

function receive(port: MessagePort, message: TabMessage): void {
  if (message.t === 'hello') {
    ports.set(message.tab, port);
    hub ??= new SharedHub(EventSource, post);
    hub.join(message.tab, message.names, message.config, message.since);
    whenTabGone(tabLockName(message.tab), () => leave(message.tab));
  } else if (message.t === 'listen') hub?.listen(message.tab, message.names);
  else if (message.t === 'bye') leave(message.tab);
}

(globalThis as unknown as { onconnect: (event: ConnectEvent) => void }).onconnect = (event) => {
  const port = event.ports[0];
  if (port === undefined) return;
  port.onmessage = (message: MessageEvent<TabMessage>) => receive(port, message.data);
  port.start();
};
