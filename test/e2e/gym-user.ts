/** One signed-in user of the gym demo in a browser context of its own (its own cookies). */
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';

/** What the demo page exposes (`window.eventrail`) plus the swap counter this helper installs. */
interface PageGlobals {
  eventrail?: { connectionId?: string; state: string };
  __listSwaps?: number;
}

export const VIEWPORT = { width: 640, height: 440 } as const;

export class GymUser {
  /** `x-instance` of the page (GET /) and of the SSE stream (GET /events). */
  pageInstance = '';
  streamInstance = '';
  /** GET /students/fragment requests made by the page (refreshes after an event). */
  fragmentRequests = 0;

  private constructor(
    readonly name: string,
    readonly gym: number,
    readonly context: BrowserContext,
    readonly page: Page,
    private readonly baseUrl: string,
  ) {
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/students/fragment') this.fragmentRequests++;
    });
    page.on('response', (response) => {
      if (new URL(response.url()).pathname === '/events') {
        this.streamInstance = response.headers()['x-instance'] ?? '';
      }
    });
  }

  /** Signs in through GET /login and waits until the page's event stream is live. */
  static async open(browser: Browser, baseUrl: string, name: string, gym: number) {
    const context = await browser.newContext({ viewport: VIEWPORT });
    // The page shares its stream between tabs (`share: true`). This suite reads each stream's
    // `x-instance` from the page's own requests: without SharedWorker the one tab of each user
    // leads and holds the stream itself. test/e2e-shared.test.ts covers the SharedWorker.
    await context.addInitScript(() => {
      delete (window as { SharedWorker?: unknown }).SharedWorker;
    });
    const page = await context.newPage();
    const user = new GymUser(name, gym, context, page, baseUrl);
    await user.load(`${baseUrl}/login?user=${name}&gym=${gym}`);
    return user;
  }

  /** Reloads the page (a fresh page response and a fresh stream, maybe on the other instance). */
  reload(): Promise<void> {
    return this.load(`${this.baseUrl}/`);
  }

  private async load(url: string): Promise<void> {
    this.streamInstance = '';
    const stream = this.page.waitForResponse((r) => new URL(r.url()).pathname === '/events');
    const response = await this.page.goto(url);
    if (response?.status() !== 200) throw new Error(`${url} answered ${response?.status()}`);
    this.pageInstance = response.headers()['x-instance'] ?? '';
    this.streamInstance = (await stream).headers()['x-instance'] ?? '';
    // Live and named by the server: from now on this tab's changes skip it.
    await this.page.waitForFunction(
      () => {
        const g = window as unknown as PageGlobals;
        return g.eventrail?.state === 'open' && g.eventrail.connectionId !== undefined;
      },
      undefined,
      { timeout: 10_000 },
    );
    await this.page.evaluate(() => {
      const g = window as unknown as PageGlobals;
      g.__listSwaps = 0;
      new MutationObserver((records) => {
        for (const record of records) {
          for (const node of record.addedNodes) {
            if (node instanceof Element && node.id === 'students')
              g.__listSwaps = (g.__listSwaps ?? 0) + 1;
          }
        }
      }).observe(document.body, { childList: true, subtree: true });
    });
    this.fragmentRequests = 0;
  }

  /** The client's connection state (`open`, `reconnecting`, ...). */
  state(): Promise<string | undefined> {
    return this.page.evaluate(() => (window as unknown as PageGlobals).eventrail?.state);
  }

  connectionId(): Promise<string | undefined> {
    return this.page.evaluate(() => (window as unknown as PageGlobals).eventrail?.connectionId);
  }

  /** How many times the list element was replaced since the page loaded. */
  listSwaps(): Promise<number> {
    return this.page.evaluate(() => (window as unknown as PageGlobals).__listSwaps ?? 0);
  }

  /** Events the page's client received (the counter on the page). */
  async events(): Promise<number> {
    return Number(await this.page.locator('#event-count').textContent());
  }

  students(): Promise<string[]> {
    return this.page.locator('#students .name').allTextContents();
  }

  /** Waits until the list shows exactly `names`; rejects after `timeoutMs`. */
  async waitForStudents(names: readonly string[], timeoutMs: number): Promise<void> {
    await this.page.waitForFunction(
      (expected) =>
        JSON.stringify(
          [...document.querySelectorAll('#students .name')].map((e) => e.textContent),
        ) === JSON.stringify(expected),
      names,
      { timeout: timeoutMs },
    );
  }

  /** Adds a student through the form; resolves with the POST's response. */
  async addStudent(name: string): Promise<Response> {
    const posted = this.page.waitForResponse(
      (r) => new URL(r.url()).pathname === '/students' && r.request().method() === 'POST',
    );
    await this.page.fill('form.add input[name=name]', name);
    await this.page.click('form.add button[type=submit]');
    return posted;
  }

  /** Deletes a student with its × button; resolves with the POST's response. */
  async deleteStudent(name: string): Promise<Response> {
    const posted = this.page.waitForResponse((r) =>
      /^\/students\/\d+\/delete$/.test(new URL(r.url()).pathname),
    );
    await this.page
      .locator('#students li')
      .filter({ has: this.page.locator('.name', { hasText: name }) })
      .locator('button.delete')
      .click();
    return posted;
  }

  close(): Promise<void> {
    return this.context.close();
  }
}
