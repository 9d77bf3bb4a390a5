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

/** What htmx exposes on `window` that the client reads (its config may rename the class below). */
interface HtmxGlobal {
  config?: { addedClass?: string };
}

/**
 * The element htmx has just swapped in and not processed yet, that `target` is or is inside:
 * htmx marks inserted content with its `addedClass` and attaches the `hx-trigger` listeners only
 * when the swap settles (20 ms later by default), then fires `htmx:load` on it. A refresh event
 * dispatched before that reaches no listener and is lost.
 */
function unprocessedHtmxRoot(target: RefreshTarget): EventTarget | null {
  const closest = (target as { closest?: (selector: string) => EventTarget | null }).closest;
  if (typeof closest !== 'function') return null;
  const htmx = (globalThis as { htmx?: HtmxGlobal }).htmx;
  // Without htmx on the page nobody would fire htmx:load: never wait for it.
  if (htmx === undefined) return null;
  return closest.call(target, `.${htmx.config?.addedClass ?? 'htmx-added'}`);
}

/** Finds declared elements under a root and asks them to refresh. */
export class RefreshRegistry {
  private readonly selector: string;
  /** Refreshes waiting for htmx to finish with their element: the latest of each. */
  private readonly deferred = new WeakMap<
    RefreshTarget,
    { detail: RefreshDetail; name?: string }
  >();
  /** Elements with an htmx request in flight (see {@link trackHtmxRequests}). */
  private readonly requesting = new WeakSet<EventTarget>();

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
      this.dispatch(target, detail, eventName);
      count++;
    }
    return count;
  }

  /**
   * Follows htmx's requests under the root until the returned function is called. An element
   * refetching when an event arrives gets its refresh once the request is over: htmx would queue
   * the new request on that element and drop it if the response replaced the element (an
   * `outerHTML` swap), though the change may be newer than that response.
   */
  trackHtmxRequests(): () => void {
    const onSend = (event: Event): void => {
      const elt = event.target;
      if (elt === null || this.requesting.has(elt)) return;
      this.requesting.add(elt);
      // On the element itself: once swapped out, its events no longer reach the root.
      const onDone = (done: Event): void => {
        if (done.target !== elt) return;
        elt.removeEventListener('htmx:afterRequest', onDone);
        this.requesting.delete(elt);
      };
      elt.addEventListener('htmx:afterRequest', onDone);
    };
    this.root.addEventListener('htmx:beforeSend', onSend);
    return () => this.root.removeEventListener('htmx:beforeSend', onSend);
  }

  /**
   * Dispatches the refresh event on `target`, or once htmx is done with it: after its request in
   * flight (on the element that then declares it, when the response replaced it), or once htmx
   * has processed the content it was just swapped in with. Several refreshes meanwhile make one,
   * the latest: one refetch covers them all.
   */
  private dispatch(target: RefreshTarget, detail: RefreshDetail, name?: string): void {
    const requesting = this.requesting.has(target);
    const busy = requesting ? target : unprocessedHtmxRoot(target);
    if (busy === null) {
      target.dispatchEvent(new CustomEvent<RefreshDetail>(this.eventType, { detail }));
      return;
    }
    const waiting = this.deferred.has(target);
    this.deferred.set(target, name === undefined ? { detail } : { detail, name });
    if (waiting) return;
    const doneWith = requesting ? 'htmx:afterRequest' : 'htmx:load';
    const onDone = (event: Event): void => {
      // Both bubble: a request or load of content deeper inside may end first.
      if (event.target !== busy) return;
      busy.removeEventListener(doneWith, onDone);
      const latest = this.deferred.get(target);
      this.deferred.delete(target);
      if (latest) this.redispatch(target, latest.detail, latest.name);
    };
    busy.addEventListener(doneWith, onDone);
  }

  /** After a wait: on `target` if still in the document, else on what replaced it. */
  private redispatch(target: RefreshTarget, detail: RefreshDetail, name?: string): void {
    if ((target as { isConnected?: boolean }).isConnected !== false) {
      this.dispatch(target, detail, name);
      return;
    }
    const id = (target as { id?: unknown }).id;
    if (typeof id === 'string' && id !== '') {
      const selector = `${this.selector}[id="${id.replace(/["\\]/g, '\\$&')}"]`;
      const replacement = this.root.querySelectorAll(selector)[0];
      if (replacement) {
        this.dispatch(replacement, detail, name);
        return;
      }
    }
    // No way to tell which element replaced it: every one declaring the event refreshes.
    this.refresh(detail, name);
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
