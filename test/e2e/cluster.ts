/**
 * Runs `npm run demo:cluster` (examples/gym/cluster.ts) as a child process for the browser tests:
 * two instances, the round-robin proxy on a free port, and a redis-server of its own (or what
 * `extraEnv` names: REDIS_CLUSTER, DEMO_REDIS=cluster).
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
  /** The pid of cluster.ts itself (the instances and Redis are its children). */
  readonly pid: number;
  /** The instances behind the proxy, `http://127.0.0.1:{port}`, in order (instance-1 first). */
  instances(): string[];
  /** What the cluster printed so far (for failure messages). */
  output(): string;
  /** The pid of an instance (`instance-1`, ...), from the line it printed when it started. */
  pidOf(instance: string): number | undefined;
  /**
   * Sends `signal` to an instance and resolves once cluster.ts has seen it exit (its listening
   * socket is closed then, so the proxy's next connection to it is refused and retried on another
   * instance, rather than reset half-way by a process still dying).
   */
  kill(instance: string, signal: NodeJS.Signals): Promise<void>;
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

export async function startDemoCluster(
  extraEnv: Record<string, string> = {},
): Promise<DemoCluster> {
  // A port found free may be taken by another process before the cluster binds it (or one of its
  // instances' ports, or its Redis's): then the cluster exits during start-up, and another try
  // gets other ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(extraEnv);
    } catch (err) {
      if (!(err instanceof ExitedDuringStart) || attempt === START_ATTEMPTS) throw err;
      console.log(`# demo:cluster exited during start-up (attempt ${attempt}), trying again`);
    }
  }
}

/** How many times {@link startDemoCluster} starts the cluster when it exits during start-up. */
const START_ATTEMPTS = 3;

/** The cluster exited before it served: another try may do (its ports were taken). */
class ExitedDuringStart extends Error {}

async function startOnce(extraEnv: Record<string, string>): Promise<DemoCluster> {
  const port = await findFreePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port) };
  // A Redis of its own, or the one the test names: tests never touch a shared one.
  delete env.REDIS_URL;
  delete env.REDIS_CLUSTER;
  delete env.DEMO_REDIS;
  Object.assign(env, extraEnv);
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
  const exitLine = (instance: string): RegExp => new RegExp(`\\[cluster\\] ${instance} exited \\(`);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const onExit = (): void => killGroup(child, 'SIGKILL');
  process.once('exit', onExit);

  const url = `http://127.0.0.1:${port}`;
  let stopped: Promise<void> | undefined;
  const cluster: DemoCluster = {
    url,
    pid: child.pid ?? 0,
    instances() {
      const line = /demo cluster on \S+ -> (.+)$/m.exec(output);
      return line ? (line[1] as string).split(', ').map((host) => `http://${host}`) : [];
    },
    output: () => output,
    pidOf(instance) {
      const line = new RegExp(`\\[gym ${instance}\\] listening on \\S+ \\(pid (\\d+)`).exec(output);
      return line ? Number(line[1]) : undefined;
    },
    async kill(instance, signal) {
      const pid = cluster.pidOf(instance);
      if (pid === undefined) throw new Error(`no pid for ${instance} in:\n${output}`);
      const exitedNow = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          child.stdout?.off('data', check);
          reject(new Error(`${instance} did not exit within 20 s after ${signal}:\n${output}`));
        }, 20_000);
        function check(): void {
          if (!exitLine(instance).test(output)) return;
          clearTimeout(timer);
          child.stdout?.off('data', check);
          resolve();
        }
        child.stdout?.on('data', check);
        check();
      });
      process.kill(pid, signal);
      await exitedNow;
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

  // Up once the cluster says its proxy listens on this port (not merely once something answers
  // there: another process may hold a port found free) and the proxy serves an instance.
  const listening = `demo cluster on http://localhost:${port} `;
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await cluster.stop();
      throw new ExitedDuringStart(
        `demo:cluster exited during start-up on ${url}.\n--- its output ---\n${output}`,
      );
    }
    if (output.includes(listening)) {
      try {
        const answer = await fetch(`${url}/healthz`);
        await answer.arrayBuffer();
        if (answer.ok && answer.headers.has('x-instance')) return cluster;
      } catch {
        // not serving yet
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await cluster.stop();
  throw new Error(`demo:cluster did not come up on ${url}.\n--- its output ---\n${output}`);
}
