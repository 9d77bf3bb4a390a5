/**
 * One tab of the gym demo, in any engine of the rig (rig.ts): what it shows, what it fetched, what
 * its client received. All of it is read in the page: a MutationObserver counts the list's swaps
 * and when each name first showed, and a wrapper around `XMLHttpRequest` (htmx's transport)
 * counts fragment refetches and keeps each POST's status, `x-instance` and origin header.
 */
import type { RigContext, RigPage } from './rig.js';
import { waitInPage } from './rig.js';

/** What the demo page exposes (`window.eventrail`). */
export interface ClientView {
  readonly state: string;
  readonly connectionId: string | undefined;
  readonly sharing: string;
  readonly tabs: number;
}

/** A POST the page made (through htmx), as the page saw it. */
export interface PostSeen {
  readonly path: string;
  readonly status: number;
  /** The response's `x-instance`. */
  readonly instance: string;
  /** The request's `x-eventrail-origin` (the acting tab's id). */
  readonly origin: string;
  /** When the page sent it and when the answer was in (the page's `Date.now()`). */
  readonly sentAt: number;
  readonly answeredAt: number;
}

export interface TabCounts {
  readonly events: number;
  readonly swaps: number;
  readonly fragments: number;
}

interface Recorder {
  swaps: number;
  /** When the list was last replaced (the page's `Date.now()`). */
  swappedAt: number;
  fragments: number;
  seenAt: Record<string, number>;
  posts: PostSeen[];
  /** When the client counted each event, and when each fragment refetch was sent and answered. */
  eventsAt: number[];
  fragmentsAt: Array<[number, number]>;
}

/** Installed once per document, after the client is live. Plain JavaScript run in the page. */
function instrument(): void {
  const g = window as unknown as { __rig?: Recorder };
  if (g.__rig) return;
  const rig: Recorder = {
    swaps: 0,
    swappedAt: 0,
    fragments: 0,
    seenAt: {},
    posts: [],
    eventsAt: [],
    fragmentsAt: [],
  };
  const counter = document.getElementById('event-count');
  if (counter) {
    new MutationObserver(() => rig.eventsAt.push(Date.now())).observe(counter, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  }
  g.__rig = rig;
  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (!(node instanceof Element) || node.id !== 'students') continue;
        rig.swaps++;
        rig.swappedAt = Date.now();
        // Observer callbacks run as microtasks: the time is exact even in a background tab.
        for (const name of node.querySelectorAll('.name')) {
          rig.seenAt[name.textContent ?? ''] ??= Date.now();
        }
      }
    }
  }).observe(document.body, { childList: true, subtree: true });
  type Tracked = XMLHttpRequest & {
    __rig?: { method: string; path: string; headers: Record<string, string> };
  };
  const proto = XMLHttpRequest.prototype;
  const { open, send, setRequestHeader } = proto;
  proto.open = function (this: Tracked, method: string, url: string | URL, ...rest: unknown[]) {
    this.__rig = { method, path: new URL(url, location.href).pathname, headers: {} };
    return (open as (...a: unknown[]) => void).call(this, method, url, ...rest);
  };
  proto.setRequestHeader = function (this: Tracked, name: string, value: string) {
    if (this.__rig) this.__rig.headers[name.toLowerCase()] = value;
    return setRequestHeader.call(this, name, value);
  };
  proto.send = function (this: Tracked, body?: Document | XMLHttpRequestBodyInit | null) {
    const request = this.__rig;
    if (request?.path === '/students/fragment') {
      rig.fragments++;
      const sentAt = Date.now();
      this.addEventListener('loadend', () => rig.fragmentsAt.push([sentAt, Date.now()]));
    }
    if (request?.method.toUpperCase() === 'POST') {
      const sentAt = Date.now();
      this.addEventListener('loadend', () => {
        rig.posts.push({
          path: request.path,
          status: this.status,
          instance: this.getResponseHeader('x-instance') ?? '',
          origin: request.headers['x-eventrail-origin'] ?? '',
          sentAt,
          answeredAt: Date.now(),
        });
      });
    }
    return send.call(this, body);
  };
}

export class GymTab {
  private constructor(readonly page: RigPage) {}

  /** Opens `url` in a new tab of `context` and waits until its client is live and named. */
  static async open(context: RigContext, url: string, timeoutMs = 10_000): Promise<GymTab> {
    return GymTab.on(await context.newPage(), url, timeoutMs);
  }

  /** Opens `url` in `page` and waits until its client is live and named. */
  static async on(page: RigPage, url: string, timeoutMs = 10_000): Promise<GymTab> {
    const tab = new GymTab(page);
    await tab.load(url, timeoutMs);
    return tab;
  }

  /** Loads `url` in this tab and waits until its client is live and named. */
  async load(url: string, timeoutMs = 10_000): Promise<void> {
    await this.page.goto(url);
    await this.live(timeoutMs);
  }

  /** Waits until the page's client is open and named, and counts from there. */
  async live(timeoutMs = 10_000): Promise<void> {
    await waitInPage(
      this.page,
      () => {
        const e = (window as { eventrail?: ClientView }).eventrail;
        return e?.state === 'open' && e.connectionId !== undefined;
      },
      undefined,
      'the client is open and named',
      timeoutMs,
    );
    await this.page.evaluate(instrument, undefined);
  }

  /** The client's state, origin, sharing mode and tab count. */
  client(): Promise<ClientView> {
    return this.page.evaluate(() => {
      const e = (window as { eventrail?: ClientView }).eventrail;
      return {
        state: e?.state ?? '',
        connectionId: e?.connectionId,
        sharing: e?.sharing ?? '',
        tabs: e?.tabs ?? 0,
      };
    }, undefined);
  }

  /** The instance that served the page (its `#instance`). */
  pageInstance(): Promise<string> {
    return this.page.evaluate(() => document.getElementById('instance')?.textContent ?? '', 0);
  }

  /** Timings, for a failure message: when events came, when refetches went and came back. */
  timings(): Promise<{ eventsAt: number[]; fragmentsAt: Array<[number, number]> }> {
    return this.page.evaluate(() => {
      const rig = (window as { __rig?: Recorder }).__rig;
      return { eventsAt: rig?.eventsAt ?? [], fragmentsAt: rig?.fragmentsAt ?? [] };
    }, undefined);
  }

  /** Events the page's client received, swaps of the list, fragment refetches. */
  counts(): Promise<TabCounts> {
    return this.page.evaluate(() => {
      const rig = (window as { __rig?: Recorder }).__rig;
      return {
        events: Number(document.getElementById('event-count')?.textContent),
        swaps: rig?.swaps ?? 0,
        fragments: rig?.fragments ?? 0,
      };
    }, undefined);
  }

  /** When the list was last replaced (the page's `Date.now()`; 0 before any swap). */
  swappedAt(): Promise<number> {
    return this.page.evaluate(
      () => (window as { __rig?: Recorder }).__rig?.swappedAt ?? 0,
      undefined,
    );
  }

  async events(): Promise<number> {
    return (await this.counts()).events;
  }

  students(): Promise<string[]> {
    return this.page.evaluate(
      () => [...document.querySelectorAll('#students .name')].map((e) => e.textContent ?? ''),
      undefined,
    );
  }

  /**
   * Waits until the list shows `name` and resolves with when it first did (the page's
   * `Date.now()`); rejects after `timeoutMs`.
   */
  async waitForStudent(name: string, timeoutMs: number): Promise<number> {
    await waitInPage(
      this.page,
      (wanted) =>
        [...document.querySelectorAll('#students .name')].some((e) => e.textContent === wanted),
      name,
      `${name} in the list`,
      timeoutMs,
    );
    return this.page.evaluate(
      (wanted) => (window as { __rig?: Recorder }).__rig?.seenAt[wanted] ?? Date.now(),
      name,
    );
  }

  /** Waits until the list shows exactly `names`. */
  async waitForStudents(names: readonly string[], timeoutMs: number): Promise<void> {
    await waitInPage(
      this.page,
      (expected) =>
        JSON.stringify(
          [...document.querySelectorAll('#students .name')].map((e) => e.textContent),
        ) === JSON.stringify(expected),
      names,
      `the list is ${names.join(', ')}`,
      timeoutMs,
    );
  }

  /** Adds a student through the form (the tab comes to the front first, as a user's would). */
  async addStudent(name: string): Promise<PostSeen> {
    await this.page.bringToFront();
    return this.post(async () => {
      await this.page.fill('form.add input[name=name]', name);
      await this.page.click('form.add button[type=submit]');
    });
  }

  /** Deletes a student with its × button. */
  async deleteStudent(name: string): Promise<PostSeen> {
    await this.page.bringToFront();
    const index = (await this.students()).indexOf(name);
    if (index < 0) throw new Error(`${name} is not in the list`);
    return this.post(() => this.page.click(`#students li:nth-of-type(${index + 1}) button.delete`));
  }

  /** Does `act` and resolves with the POST it made, once answered. */
  private async post(act: () => Promise<void>): Promise<PostSeen> {
    const count = () => (window as { __rig?: Recorder }).__rig?.posts.length ?? 0;
    const before = await this.page.evaluate(count, undefined);
    await act();
    await waitInPage(
      this.page,
      (n) => ((window as { __rig?: Recorder }).__rig?.posts.length ?? 0) > n,
      before,
      'the POST answered',
    );
    return this.page.evaluate(
      (n) => (window as unknown as { __rig: Recorder }).__rig.posts[n] as PostSeen,
      before,
    );
  }
}
