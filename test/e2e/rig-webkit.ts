/**
 * The rig's WebKit: WebKitGTK's MiniBrowser (Debian's `webkit2gtk-driver`), driven by
 * selenium-webdriver against `WebKitWebDriver` under Xvfb. WebKitWebDriver speaks classic WebDriver
 * (no BiDi in 2.50): no script runs before a page's own, and one session drives one window at a
 * time, so every command here first switches to its page's window, one command at a time.
 *
 * A context is a session of its own (its own driver and browser process, its own cookies).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Builder, By, type WebDriver } from 'selenium-webdriver';
import { findFreePort } from '../helpers/redis.js';
import { sleep } from '../helpers/sse.js';
import type { ContextOptions, InPage, RigBrowser, RigContext, RigPage } from './rig.js';
import { inPageSource, RigUnsupported, WEBKIT_DRIVER_PATH, XVFB_RUN_PATH } from './rig-tools.js';

const MINIBROWSER = '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
const START_TIMEOUT_MS = 30_000;

/** Runs the commands of one session one at a time (each switches to its window first). */
function serial(): <T>(work: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return (work) => {
    const run = tail.then(work, work);
    tail = run.catch(() => {});
    return run;
  };
}

function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

/** A WebKitWebDriver under xvfb-run on a free port, and a session on it. */
async function startSession(): Promise<{ driver: WebDriver; stop(): Promise<void> }> {
  const port = await findFreePort();
  const child = spawn(XVFB_RUN_PATH, ['-a', WEBKIT_DRIVER_PATH, `--port=${port}`], {
    detached: true,
    stdio: 'ignore',
  });
  const onExit = (): void => killGroup(child);
  process.once('exit', onExit);
  const stop = async (): Promise<void> => {
    killGroup(child);
    process.removeListener('exit', onExit);
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      if ((await fetch(`${url}/status`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`WebKitWebDriver did not start on ${url}`);
    }
    await sleep(100);
  }
  try {
    const driver = await new Builder()
      .usingServer(url)
      .withCapabilities({
        browserName: 'MiniBrowser',
        'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
      })
      .build();
    return {
      driver,
      async stop() {
        await driver.quit().catch(() => {});
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function rigPage(
  driver: WebDriver,
  handle: string,
  run: <T>(work: () => Promise<T>) => Promise<T>,
  close: () => Promise<void>,
): RigPage {
  const inWindow = <T>(work: () => Promise<T>): Promise<T> =>
    run(async () => {
      await driver.switchTo().window(handle);
      return work();
    });
  return {
    goto: (url) => inWindow(() => driver.get(url)),
    evaluate: <A, R>(fn: InPage<A, R>, arg: A) =>
      inWindow(async () => {
        const answer = (await driver.executeAsyncScript(
          `const done = arguments[arguments.length - 1];
           Promise.resolve().then(() => ${inPageSource(fn, arg)})
             .then((value) => done({ value }), (err) => done({ error: String(err) }));`,
        )) as { value?: R; error?: string };
        if (answer.error !== undefined) throw new Error(`in the page: ${answer.error}`);
        return answer.value as R;
      }),
    click: (selector) => inWindow(() => driver.findElement(By.css(selector)).click()),
    fill: (selector, value) =>
      inWindow(async () => {
        const input = driver.findElement(By.css(selector));
        await input.clear();
        await input.sendKeys(value);
      }),
    bringToFront: () => inWindow(async () => {}),
    close: () => run(close),
    back: () => inWindow(() => driver.navigate().back()),
  };
}

type Session = Awaited<ReturnType<typeof startSession>>;

async function webkitContext(session: Session): Promise<RigContext> {
  const { driver } = session;
  const run = serial();
  const open = new Set<string>();
  /** The session's first window, unused until the first page takes it. */
  let spare: string | undefined = await driver.getWindowHandle();
  /** Closes the window of a page; the session's last one stays, blank: closing it ends the session. */
  const closePage = (handle: string) => async (): Promise<void> => {
    await driver.switchTo().window(handle);
    open.delete(handle);
    const next = open.values().next();
    if (next.done) {
      await driver.get('about:blank');
      spare = handle;
      return;
    }
    await driver.close();
    // A session needs a current window.
    await driver.switchTo().window(next.value);
  };
  return {
    newPage: () =>
      run(async () => {
        let handle = spare;
        spare = undefined;
        if (handle === undefined) {
          if (open.size > 0) await driver.switchTo().window(open.values().next().value as string);
          await driver.switchTo().newWindow('tab');
          handle = await driver.getWindowHandle();
        }
        open.add(handle);
        return rigPage(driver, handle, run, closePage(handle));
      }),
    close: () => session.stop(),
  };
}

export async function launchWebKitRig(): Promise<RigBrowser> {
  // The first session tells the version (and that WebKit starts here at all); the first context
  // takes it.
  let first: Session | undefined = await startSession();
  const capabilities = await first.driver.getCapabilities();
  const version = `WebKitGTK/${String(capabilities.get('browserVersion'))}`;
  const contexts = new Set<RigContext>();
  return {
    engine: 'webkit',
    version,
    async newContext(options: ContextOptions = {}) {
      if (options.initScript !== undefined) {
        throw new RigUnsupported(
          'WebKitWebDriver has no way to run a script before the page (classic WebDriver only)',
        );
      }
      const session = first ?? (await startSession());
      first = undefined;
      const context = await webkitContext(session);
      contexts.add(context);
      return {
        newPage: () => context.newPage(),
        async close() {
          contexts.delete(context);
          await context.close();
        },
      };
    },
    async close() {
      await first?.stop();
      await Promise.all([...contexts].map((c) => c.close()));
      contexts.clear();
    },
  };
}
