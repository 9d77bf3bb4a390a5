/**
 * What the client reads in eventrail's own events, and the messages between tabs and the side
 * that holds a shared stream (a SharedWorker or the leading tab).
 */
import type { SourceConfig } from './source.js';

const ID = /^[A-Za-z0-9_-]{1,128}$/;

function field(data: string, name: string): string | undefined {
  try {
    const value: unknown = JSON.parse(data);
    if (value !== null && typeof value === 'object' && name in value) {
      const found = (value as Record<string, unknown>)[name];
      if (typeof found === 'string') return found;
    }
  } catch {
    // not ours: ignore
  }
  return undefined;
}

/** The connection id of `eventrail.connected` (`{"connectionId":"..."}`), if valid. */
export function parseConnectionId(data: string): string | undefined {
  const id = field(data, 'connectionId');
  return id !== undefined && ID.test(id) ? id : undefined;
}

/** `eventrail.origin` (`{"tab":"...","event":"..."}`): the tab the next event came from. */
export function parseMarker(data: string): { tab: string; event: string } | undefined {
  const tab = field(data, 'tab');
  const event = field(data, 'event');
  return tab !== undefined && event !== undefined && /^[A-Za-z0-9_-]{1,64}$/.test(tab)
    ? { tab, event }
    : undefined;
}

/** A new tab id: 16 random characters of `[A-Za-z0-9_-]`. */
export function newTabId(): string {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
}

/** A tab to the shared side. */
export type TabMessage =
  | {
      readonly t: 'hello';
      readonly tab: string;
      readonly names: string[];
      readonly config: SourceConfig;
      /** The tab's render position (`''` for none): what it missed since is handed to it. */
      readonly since?: string;
    }
  | { readonly t: 'listen'; readonly tab: string; readonly names: string[] }
  | { readonly t: 'bye'; readonly tab: string };

/**
 * The shared side to its tabs. Over a BroadcastChannel every tab hears every message: one meant
 * for a single tab carries `to` (see {@link addressed}).
 */
export type HubMessage = HubBody & { readonly to?: string };

/** What the shared side says, to whom aside. */
type HubBody =
  | { readonly t: 'state'; readonly state: 'open' | 'reconnecting' }
  /** The shared connection's id (undefined between streams), and the stream's id at its start. */
  | { readonly t: 'connected'; readonly id: string | undefined; readonly at?: string }
  /** An event; `skip` is the tab that caused it, which ignores it. */
  | {
      readonly t: 'event';
      readonly name: string;
      readonly data: string;
      readonly id: string;
      readonly skip?: string | undefined;
    }
  | { readonly t: 'resync'; readonly reason: 'resync' | 'reconnect'; readonly id: string }
  /** How many tabs share the stream; `joined` is the tab whose joining made it so. */
  | { readonly t: 'tabs'; readonly count: number; readonly joined?: string };

/** `message` meant for tab `tab` alone, for a channel every tab hears. */
export function addressed(message: HubMessage, tab: string | undefined): HubMessage {
  return tab === undefined ? message : { ...message, to: tab };
}

/** The lock a tab holds while it lives: whoever waits for it learns when the tab is gone. */
export function tabLockName(tab: string): string {
  return `eventrail tab ${tab}`;
}
