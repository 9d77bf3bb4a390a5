import { REFRESH_ATTRIBUTE, REFRESH_EVENT } from './constants.js';

/** An element that may declare refreshes: any DOM `Element` is one. @public */
export interface RefreshTarget extends EventTarget {
  getAttribute(name: string): string | null;
}

/** Where the client looks for declared elements: `document` by default, or any element. @public */
export interface RefreshRoot extends EventTarget {
  querySelectorAll(selectors: string): ArrayLike<RefreshTarget>;
}

/** Why an element is asked to refresh. @public */
export type RefreshReason = 'event' | 'resync' | 'reconnect';

/** `event.detail` of the refresh DOM event. @public */
export interface RefreshDetail {
  /** `event`: a declared event arrived; `resync` or `reconnect`: everything refreshes. */
  readonly reason: RefreshReason;
  /** The SSE event name, for `reason: 'event'`. */
  readonly eventName?: string;
  /** The event's `data` text, for `reason: 'event'`. */
  readonly data?: string;
}

/** Finds declared elements under a root and asks them to refresh. */
export class RefreshRegistry {
  private readonly selector: string;

  constructor(
    private readonly root: RefreshRoot,
    private readonly attribute: string = REFRESH_ATTRIBUTE,
    private readonly eventType: string = REFRESH_EVENT,
  ) {
    this.selector = `[${attribute}]`;
  }

  private names(target: RefreshTarget): string[] {
    return (target.getAttribute(this.attribute) ?? '').split(/\s+/).filter((n) => n !== '');
  }

  /** Every event name some element declares right now. */
  declaredNames(): Set<string> {
    const names = new Set<string>();
    const targets = this.root.querySelectorAll(this.selector);
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i];
      if (target) for (const name of this.names(target)) names.add(name);
    }
    return names;
  }

  /**
   * Dispatches the refresh event on every element declaring `eventName`, or on every declared
   * element when `eventName` is undefined. Returns how many were asked.
   */
  refresh(detail: RefreshDetail, eventName?: string): number {
    const targets = this.root.querySelectorAll(this.selector);
    let count = 0;
    // Collect first: a listener may swap elements out while we dispatch.
    const matching: RefreshTarget[] = [];
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i];
      if (target && (eventName === undefined || this.names(target).includes(eventName))) {
        matching.push(target);
      }
    }
    for (const target of matching) {
      target.dispatchEvent(new CustomEvent<RefreshDetail>(this.eventType, { detail }));
      count++;
    }
    return count;
  }

  /**
   * Calls `onChange` when declared elements appear or change (htmx swaps, templates), where the
   * platform has a MutationObserver. Returns the function that stops watching.
   */
  watch(onChange: () => void): () => void {
    if (typeof MutationObserver !== 'function' || typeof Node !== 'function') return () => {};
    if (!(this.root instanceof Node)) return () => {};
    const observer = new MutationObserver(onChange);
    observer.observe(this.root, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: [this.attribute],
    });
    return () => observer.disconnect();
  }
}

/** The part of htmx's `htmx:configRequest` detail the client touches. */
interface ConfigRequestDetail {
  headers?: Record<string, string>;
  path?: string;
}

function sameOrigin(path: string | undefined): boolean {
  if (typeof location === 'undefined' || path === undefined) return true;
  try {
    return new URL(path, location.href).origin === location.origin;
  } catch {
    return false;
  }
}

/**
 * Adds `header: id()` to every same-origin htmx request dispatched under `root` while `id()` is
 * known. Returns the function that stops it.
 */
export function addHeaderToHtmxRequests(
  root: EventTarget,
  header: string,
  id: () => string | undefined,
): () => void {
  const listener = (event: Event): void => {
    const value = id();
    const detail = (event as CustomEvent<ConfigRequestDetail | null>).detail;
    if (value === undefined || !detail?.headers || !sameOrigin(detail.path)) return;
    detail.headers[header] = value;
  };
  root.addEventListener('htmx:configRequest', listener);
  return () => root.removeEventListener('htmx:configRequest', listener);
}
