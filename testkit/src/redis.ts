/**
 * Throwaway `redis-server` processes, for the tests and the bench.
 *
 * Every server is started by this process on a free port of 127.0.0.1, with no persistence and its
 * files in the temporary directory, and killed when this process exits. The shared Redis on port
 * 6379 is never touched: nothing here connects to a port it did not start a server on, and a
 * server that answers on our port is only trusted once its `process_id` is the pid of the child we
 * spawned.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import { commandExists, spawnTracked } from './children.js';
import { findFreePort } from './port.js';
import { connectRaw } from './resp.js';

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const OUTPUT_LIMIT = 16 * 1024;

/** A redis-server started by {@link startRedis}. */
export interface RedisProcess {
  readonly port: number;
  /** `redis://127.0.0.1:{port}` */
  readonly url: string;
  /** SIGTERM, then waits for the process to exit (SIGKILL after 5 s). Safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL: the server vanishes without closing its connections politely. */
  kill(): Promise<void>;
  /** Starts the server again on the same port (stopping it first if it still runs). */
  restart(): Promise<void>;
  /** The last 16 KiB the server printed (its log), for error messages. */
  readonly output: string;
}

/** Whether `redis-server` is on PATH. */
export const redisAvailable: boolean = commandExists('redis-server', ['--version']);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class RedisServer implements RedisProcess {
  readonly port: number;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #output = '';

  constructor(
    port: number,
    private readonly extraArgs: readonly string[] = [],
  ) {
    this.port = port;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The last lines redis-server printed, for error messages. */
  get output(): string {
    return this.#output;
  }

  async launch(): Promise<void> {
    if (this.#child !== undefined)
      throw new Error(`redis-server on ${this.port} is already running`);
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--dir',
      os.tmpdir(),
      ...this.extraArgs,
    ];
    this.#output = '';
    const child = spawnTracked('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    const append = (chunk: Buffer): void => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    let exitInfo: string | undefined;
    let spawnError: Error | undefined;
    this.#exited = new Promise<void>((resolve) => {
      child.once('error', (err) => {
        spawnError = err;
        exitInfo = `failed to spawn: ${err.message}`;
        if (this.#child === child) this.#child = undefined;
        resolve();
      });
      child.once('exit', (code, signal) => {
        exitInfo = `exited with ${signal ?? `code ${code}`}`;
        if (this.#child === child) this.#child = undefined;
        resolve();
      });
    });
    // A caller that forgets stop() must not keep the process alive: the exit hook kills it.
    child.unref();
    for (const stream of [child.stdout, child.stderr]) {
      if (stream instanceof net.Socket) stream.unref();
    }

    const deadline = Date.now() + START_TIMEOUT_MS;
    let lastError = 'no answer yet';
    while (Date.now() < deadline) {
      if (exitInfo !== undefined) {
        throw new Error(
          `redis-server on port ${this.port} ${exitInfo} before answering PING.\n` +
            `--- redis-server output ---\n${this.#output}`,
          { cause: spawnError },
        );
      }
      try {
        const pid = await serverPid(
          this.port,
          Math.max(100, Math.min(1_000, deadline - Date.now())),
        );
        if (pid !== child.pid) {
          throw new Error(
            `port ${this.port} is answered by another Redis (pid ${pid}, ours is ${child.pid})`,
          );
        }
        return;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
        if (lastError.includes('another Redis')) {
          await this.kill();
          throw err;
        }
      }
      await sleep(50);
    }
    await this.kill();
    throw new Error(
      `redis-server on port ${this.port} did not answer PING within ${START_TIMEOUT_MS} ms ` +
        `(last error: ${lastError}).\n--- redis-server output ---\n${this.#output}`,
    );
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    child.ref(); // keep the event loop alive until the exit is seen
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([
      this.#exited.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), STOP_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!stopped) await this.kill();
  }

  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    child.ref(); // keep the event loop alive until the exit is seen
    child.kill('SIGKILL');
    await this.#exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }
}

/**
 * Starts a fresh redis-server on a free port and resolves once it answers PING; `extraArgs` are
 * added to its command line, after the defaults, which they override (e.g.
 * `['--rename-command', 'SPUBLISH', '']`, `['--dir', dir]`).
 * @throws after 10 s, with the server's output, when it does not come up.
 */
export async function startRedis(extraArgs: readonly string[] = []): Promise<RedisProcess> {
  if (!redisAvailable) throw new Error('redis-server not found on PATH');
  let lastError: unknown;
  // The free port may be taken between findFreePort() and redis-server's bind(): retry then.
  for (let attempt = 0; attempt < 3; attempt++) {
    const server = new RedisServer(await findFreePort(), extraArgs);
    try {
      await server.launch();
      return server;
    } catch (err) {
      lastError = err;
      if (!/address already in use|another Redis/i.test(String(err))) throw err;
    }
  }
  throw lastError;
}

async function serverPid(port: number, timeoutMs: number): Promise<number> {
  const connection = await connectRaw(port, { timeoutMs });
  try {
    const pong = await connection.command('PING');
    if (pong !== 'PONG') throw new Error(`PING answered ${JSON.stringify(pong)}`);
    const info = await connection.command('INFO', 'server');
    const match = typeof info === 'string' ? /^process_id:(\d+)/m.exec(info) : null;
    if (match === null) throw new Error('INFO server has no process_id');
    return Number(match[1]);
  } finally {
    await connection.close();
  }
}

/**
 * Runs `redis-cli -p {port} ...args` like another program would, and resolves with its trimmed
 * output. Rejects when redis-cli fails or Redis answers with an error.
 */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    const child = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const output = stdout.trim();
      const what = `redis-cli -p ${port} ${args.join(' ')}`;
      if (code !== 0) {
        reject(
          new Error(`${what} failed (${signal ?? `code ${code}`}): ${stderr.trim() || output}`),
        );
      } else if (/^(ERR|WRONGTYPE|NOAUTH|NOPERM|\(error\))\b/.test(output)) {
        reject(new Error(`${what}: ${output}`));
      } else {
        resolve(output);
      }
    });
  });
}
