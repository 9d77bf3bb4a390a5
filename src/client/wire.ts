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
    }
  | { readonly t: 'listen'; readonly tab: string; readonly names: string[] }
  | { readonly t: 'bye'; readonly tab: string };

/** The shared side to its tabs. */
export type HubMessage =
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
  | { readonly t: 'tabs'; readonly count: number };

/** The lock a tab holds while it lives: whoever waits for it learns when the tab is gone. */
export function tabLockName(tab: string): string {
  return `eventrail tab ${tab}`;
}
