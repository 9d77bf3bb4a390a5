/**
 * One tab of the gym demo among several of the same browser context (one cookie jar, one user),
 * for the shared-stream tests: what it shows, what it fetched, what its client received.
 */
import type { BrowserContext, Page, Response } from 'playwright-core';

/** What the demo page exposes (`window.eventrail`) plus the swap counter installed here. */
interface TabGlobals {
  eventrail?: { connectionId?: string; state: string; sharing: string; tabs: number };
  __listSwaps?: number;
  /** When each student's name first showed in the list (Date.now() of the page). */
  __seenAt?: Record<string, number>;
}

export class GymTab {
  /** GET /students/fragment requests made by the page (refreshes after an event). */
  fragmentRequests = 0;

  private constructor(readonly page: Page) {
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/students/fragment') this.fragmentRequests++;
    });
  }

  /** Opens `url` in a new tab of `context` and waits until its client is live and named. */
  static async open(context: BrowserContext, url: string, timeoutMs = 10_000): Promise<GymTab> {
    const tab = new GymTab(await context.newPage());
    const response = await tab.page.goto(url);
    if (response?.status() !== 200) throw new Error(`${url} answered ${response?.status()}`);
    await tab.page.waitForFunction(
      () => {
        const g = window as unknown as TabGlobals;
        return g.eventrail?.state === 'open' && g.eventrail.connectionId !== undefined;
      },
      undefined,
      { timeout: timeoutMs, polling: 50 },
    );
    await tab.page.evaluate(() => {
      const g = window as unknown as TabGlobals;
      g.__listSwaps = 0;
      const seen: Record<string, number> = {};
      g.__seenAt = seen;
      new MutationObserver((records) => {
        for (const record of records) {
          for (const node of record.addedNodes) {
            if (!(node instanceof Element) || node.id !== 'students') continue;
            g.__listSwaps = (g.__listSwaps ?? 0) + 1;
            // Observer callbacks run as microtasks: the time is exact even in a background tab.
            for (const name of node.querySelectorAll('.name')) {
              seen[name.textContent ?? ''] ??= Date.now();
            }
          }
        }
      }).observe(document.body, { childList: true, subtree: true });
    });
    return tab;
  }

  /** The client's state, origin, sharing mode and tab count. */
  client(): Promise<Required<TabGlobals>['eventrail']> {
    return this.page.evaluate(() => {
      const e = (window as unknown as TabGlobals).eventrail;
      return {
        state: e?.state ?? '',
        connectionId: e?.connectionId,
        sharing: e?.sharing ?? '',
        tabs: e?.tabs ?? 0,
      };
    });
  }

  /** Events the page's client received (the counter on the page). */
  async events(): Promise<number> {
    return Number(await this.page.locator('#event-count').textContent());
  }

  listSwaps(): Promise<number> {
    return this.page.evaluate(() => (window as unknown as TabGlobals).__listSwaps ?? 0);
  }

  /** Everything counted, for before/after comparisons. */
  async counts(): Promise<{ events: number; swaps: number; fragments: number }> {
    return {
      events: await this.events(),
      swaps: await this.listSwaps(),
      fragments: this.fragmentRequests,
    };
  }

  students(): Promise<string[]> {
    return this.page.locator('#students .name').allTextContents();
  }

  /**
   * Waits until the list shows `name` and resolves with when it first did (the page's
   * `Date.now()`); rejects after `timeoutMs`. Polls by time: a background tab runs no frames.
   */
  async waitForStudent(name: string, timeoutMs: number): Promise<number> {
    await this.page.waitForFunction(
      (wanted) =>
        [...document.querySelectorAll('#students .name')].some((e) => e.textContent === wanted),
      name,
      { timeout: timeoutMs, polling: 50 },
    );
    return this.page.evaluate(
      (wanted) => (window as unknown as TabGlobals).__seenAt?.[wanted] ?? Date.now(),
      name,
    );
  }

  /**
   * Adds a student through the form (the tab comes to the front first, as a user's would);
   * resolves with the POST's response.
   */
  async addStudent(name: string): Promise<Response> {
    await this.page.bringToFront();
    const posted = this.page.waitForResponse(
      (r) => new URL(r.url()).pathname === '/students' && r.request().method() === 'POST',
    );
    await this.page.fill('form.add input[name=name]', name);
    await this.page.click('form.add button[type=submit]');
    return posted;
  }
}
