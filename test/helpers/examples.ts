/**
 * Runs an example server as a child process the way `npm run example:<name>` does, on PORT=0, and
 * makes sure no child outlives the test process: killed by `stop()`, by the exit hook, and (on
 * Linux) by the kernel if the test process dies by SIGKILL.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { EXAMPLE_START_MS } from './budgets.js';
import { NODE, type Runtime } from './runtimes.js';

/** Every framework example; each is `examples/<name>/server.ts` and `npm run example:<name>`. */
export const EXAMPLES = ['node-http', 'express', 'fastify', 'hono', 'koa'] as const;
export type Example = (typeof EXAMPLES)[number];

/** A running example. */
export interface RunningExample {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Everything it printed so far. */
  output(): string;
  /** SIGKILL (when still running), then waits for the exit. Safe to call twice. */
  stop(): Promise<void>;
}

/** Node with tsx compiling the example and src/ as it imports them: seconds, a minute when busy. */
const START_TIMEOUT_MS = EXAMPLE_START_MS;

const running = new Set<ChildProcess>();
let hooked = false;

// `setpriv --pdeathsig KILL` execs the command (same pid) and has the kernel kill it with us.
const useSetpriv =
  process.platform === 'linux' &&
  spawnSync('setpriv', ['--pdeathsig', 'KILL', 'true'], { stdio: 'ignore' }).status === 0;

function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

/**
 * Starts `file` with `env` on PORT=0 on `runtime` (node with tsx unless told) and resolves once it
 * printed its `http://localhost:<port>`.
 */
export async function startExample(
  file: string,
  env: Record<string, string> = {},
  runtime: Runtime = NODE,
): Promise<RunningExample> {
  if (!hooked) {
    hooked = true;
    process.on('exit', killAll);
  }
  const run = runtime.command(file);
  const [command, ...args] = useSetpriv ? ['setpriv', '--pdeathsig', 'KILL', ...run] : run;
  const child = spawn(command as string, args, {
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    });
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  const url = await new Promise<string>((resolve, reject) => {
    const fail = (why: string): void => {
      clearTimeout(timer);
      void stop();
      reject(new Error(`${file} ${why}:\n${output}`));
    };
    const timer = setTimeout(
      () => fail(`did not start within ${START_TIMEOUT_MS} ms`),
      START_TIMEOUT_MS,
    );
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /http:\/\/localhost:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${match[1]}`);
      }
    });
    child.once('error', (err) => fail(`could not be spawned (${err.message})`));
    void exited.then((code) => fail(`exited with ${code} before listening`));
  });
  return { url, child, exited, output: () => output, stop };
}

/**
 * Starts examples/basic with `env`, and resolves with what it printed once an event published
 * through its `/publish` reached a stream of its `/events` (rejects after 10 s).
 */
export async function basicExampleDelivers(env: Record<string, string>): Promise<string> {
  const app = await startExample('examples/basic/server.ts', env);
  const controller = new AbortController();
  try {
    const response = await fetch(`${app.url}/events?scope=7`, { signal: controller.signal });
    const reader = response.body?.getReader();
    if (!reader) throw new Error('no stream');
    const decoder = new TextDecoder();
    let text = '';
    const read = async (until: string): Promise<void> => {
      while (!text.includes(until)) {
        const { done, value } = await reader.read();
        if (done) throw new Error(`the stream ended before ${until}: ${text}`);
        text += decoder.decode(value, { stream: true });
      }
    };
    const timer = setTimeout(() => controller.abort(), 10_000);
    try {
      await read('eventrail.connected');
      const published = await fetch(`${app.url}/publish?scope=7&type=students.changed&data=7`);
      if (published.status !== 202) throw new Error(`publish answered ${published.status}`);
      await read('event: app.students.changed');
    } finally {
      clearTimeout(timer);
    }
    return app.output();
  } finally {
    controller.abort();
    await app.stop();
  }
}
