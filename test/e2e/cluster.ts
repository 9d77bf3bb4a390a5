/**
 * Runs `npm run demo:cluster` (examples/gym/cluster.ts) as a child process for the browser tests:
 * two instances, the round-robin proxy on a free port, and a redis-server of its own.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { findFreePort } from '../helpers/redis.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const START_TIMEOUT_MS = 40_000;
const STOP_TIMEOUT_MS = 8_000;

/** A running demo cluster. */
export interface DemoCluster {
  /** The proxy: `http://127.0.0.1:{port}`. */
  readonly url: string;
  /** What the cluster printed so far (for failure messages). */
  output(): string;
  /** The pid of an instance (`instance-1`, ...), from the line it printed when it started. */
  pidOf(instance: string): number | undefined;
  /** Asks the proxy for /healthz and returns the `x-instance` that answered. */
  probe(): Promise<string>;
  /** SIGTERM to the whole process group, SIGKILL after 8 s. Safe to call twice. */
  stop(): Promise<void>;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is gone already
  }
}

export async function startDemoCluster(): Promise<DemoCluster> {
  const port = await findFreePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port) };
  delete env.REDIS_URL; // always a Redis of its own: tests never touch a shared one
  const child = spawn(
    process.execPath,
    ['--conditions=eventrail-src', '--import', 'tsx', 'examples/gym/cluster.ts'],
    // Its own process group, so that stop() reaches the instances and redis-server too.
    { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const append = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-32_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const onExit = (): void => killGroup(child, 'SIGKILL');
  process.once('exit', onExit);

  const url = `http://127.0.0.1:${port}`;
  let stopped: Promise<void> | undefined;
  const cluster: DemoCluster = {
    url,
    output: () => output,
    pidOf(instance) {
      const line = new RegExp(`\\[gym ${instance}\\] listening on \\S+ \\(pid (\\d+)`).exec(output);
      return line ? Number(line[1]) : undefined;
    },
    async probe() {
      const answer = await fetch(`${url}/healthz`);
      await answer.arrayBuffer();
      return answer.headers.get('x-instance') ?? '';
    },
    stop() {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          killGroup(child, 'SIGTERM');
          const timer = setTimeout(() => killGroup(child, 'SIGKILL'), STOP_TIMEOUT_MS);
          await exited;
          clearTimeout(timer);
        }
        // Instances exit on their own once the cluster is gone; make sure of it.
        killGroup(child, 'SIGKILL');
        process.removeListener('exit', onExit);
      })();
      return stopped;
    },
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const answer = await fetch(`${url}/healthz`);
      if (answer.ok) return cluster;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await cluster.stop();
  throw new Error(`demo:cluster did not come up on ${url}.\n--- its output ---\n${output}`);
}
