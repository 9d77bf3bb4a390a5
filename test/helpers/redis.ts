/**
 * Throwaway `redis-server` processes for tests, plus a tiny independent RESP client.
 *
 * Every server is started by this process on a free port of 127.0.0.1 and killed when the test
 * process exits. The shared Redis on port 6379 is never touched: nothing here connects to a port
 * it did not start a server on, and a server that answers on our port is only trusted once its
 * `process_id` is the pid of the child we spawned.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import { missingTool } from './ci.js';

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const OUTPUT_LIMIT = 16 * 1024;

/** A redis-server started for a test. */
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
}

function commandExists(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 5_000 });
  return result.error === undefined && result.status === 0;
}

/** Whether `redis-server` is on PATH. */
export const redisAvailable: boolean = commandExists('redis-server', ['--version']);

// On Linux `setpriv --pdeathsig KILL` makes the kernel kill redis-server when this process dies,
// even by SIGKILL, which no 'exit' handler can cover.
const useSetpriv: boolean =
  process.platform === 'linux' && commandExists('setpriv', ['--pdeathsig', 'KILL', 'true']);

/**
 * The reason to skip Redis tests, or `undefined` when redis-server is available. Use it as
 * `describe('...', { skip: redisSkipReason() }, ...)`.
 * @throws when redis-server is missing under CI (see `isCi`): CI must not pass by skipping.
 */
export function redisSkipReason(): string | undefined {
  if (redisAvailable) return undefined;
  return missingTool(
    'redis-server',
    'redis-server not found on PATH',
    'Install Redis (e.g. `apt-get install redis-server`) instead of letting the Redis tests skip.',
  );
}

// ---------------------------------------------------------------------------------------------
// Process bookkeeping: whatever happens, no redis-server outlives the test process.

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function killAllNow(): void {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  running.clear();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killAllNow);
  if (!useSetpriv) {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        killAllNow();
        // The listener is gone now: re-raising gets the default behaviour (terminate).
        process.kill(process.pid, signal);
      });
    }
  }
}

/** A port nobody listens on right now (the OS picks it; a tiny race remains, see startRedis). */
export async function findFreePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not determine a free port'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

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
    installExitHook();
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
    const [command, commandArgs] = useSetpriv
      ? ['setpriv', ['--pdeathsig', 'KILL', 'redis-server', ...args]]
      : ['redis-server', args];
    this.#output = '';
    const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    running.add(child);
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
        running.delete(child);
        if (this.#child === child) this.#child = undefined;
        resolve();
      });
      child.once('exit', (code, signal) => {
        exitInfo = `exited with ${signal ?? `code ${code}`}`;
        running.delete(child);
        if (this.#child === child) this.#child = undefined;
        resolve();
      });
    });
    // A test that forgets stop() must not keep the process alive: the exit hook kills it.
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
 * added to its command line (e.g. `['--rename-command', 'SPUBLISH', '']`).
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

// ---------------------------------------------------------------------------------------------
// A tiny RESP2 client, independent of node-redis, so that tests can act like another program.

/** An error reply (`-ERR ...`) from Redis. */
export class RespError extends Error {
  override readonly name = 'RespError';
}

/** A decoded RESP2 reply. Bulk and simple strings are decoded as UTF-8. */
export type RespValue = string | number | null | RespError | RespValue[];

interface Parsed {
  value: RespValue;
  end: number;
}

function parseReply(buffer: Buffer, start: number): Parsed | undefined {
  const lineEnd = buffer.indexOf('\r\n', start);
  if (lineEnd === -1) return undefined;
  const type = String.fromCharCode(buffer[start] ?? 0);
  const line = buffer.toString('utf8', start + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new RespError(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buffer.length < next + length + 2) return undefined;
      return { value: buffer.toString('utf8', next, next + length), end: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: RespValue[] = [];
      let offset = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, offset);
        if (item === undefined) return undefined;
        items.push(item.value);
        offset = item.end;
      }
      return { value: items, end: offset };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}

function encodeCommand(args: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.from(arg, 'utf8');
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** A Pub/Sub message as a raw connection receives it. */
export interface RawPubSubMessage {
  /** The pattern that matched (`pmessage`), absent for `message`. */
  readonly pattern?: string;
  readonly channel: string;
  readonly payload: string;
}

/** One plain TCP connection speaking RESP2. */
export interface RawRedisConnection {
  /** Sends one command; resolves with its reply, rejects on an error reply. */
  command(...args: string[]): Promise<RespValue>;
  /** Pub/Sub messages received by this connection once it subscribed to something. */
  onMessage(listener: (message: RawPubSubMessage) => void): void;
  close(): Promise<void>;
}

const PUSH_KINDS = new Set(['message', 'pmessage', 'smessage']);

/** Opens a raw RESP2 connection to `127.0.0.1:{port}`. */
export async function connectRaw(port: number, timeoutMs = 2_000): Promise<RawRedisConnection> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`could not connect to 127.0.0.1:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });

  const pending: { resolve: (value: RespValue) => void; reject: (err: Error) => void }[] = [];
  const listeners: ((message: RawPubSubMessage) => void)[] = [];
  let buffer: Buffer = Buffer.alloc(0);
  let subscribed = false;
  let failure: Error | undefined;

  const fail = (err: Error): void => {
    failure ??= err;
    for (const waiter of pending.splice(0)) waiter.reject(err);
  };

  socket.on('data', (chunk: Buffer) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    let offset = 0;
    for (;;) {
      let parsed: Parsed | undefined;
      try {
        parsed = parseReply(buffer, offset);
      } catch (err) {
        fail(err instanceof Error ? err : new Error(String(err)));
        socket.destroy();
        return;
      }
      if (parsed === undefined) break;
      offset = parsed.end;
      const value = parsed.value;
      if (
        subscribed &&
        Array.isArray(value) &&
        typeof value[0] === 'string' &&
        PUSH_KINDS.has(value[0])
      ) {
        const message: RawPubSubMessage =
          value[0] === 'pmessage'
            ? { pattern: String(value[1]), channel: String(value[2]), payload: String(value[3]) }
            : { channel: String(value[1]), payload: String(value[2]) };
        for (const listener of listeners) listener(message);
        continue;
      }
      const waiter = pending.shift();
      if (waiter === undefined) continue;
      if (value instanceof RespError) waiter.reject(value);
      else waiter.resolve(value);
    }
    buffer = buffer.subarray(offset);
  });
  socket.on('error', (err) => fail(err));
  socket.on('close', () => fail(new Error(`raw connection to port ${port} closed`)));

  return {
    command(...args) {
      if (failure) return Promise.reject(failure);
      const name = (args[0] ?? '').toUpperCase();
      if (name === 'SUBSCRIBE' || name === 'PSUBSCRIBE' || name === 'SSUBSCRIBE') subscribed = true;
      return new Promise<RespValue>((resolve, reject) => {
        pending.push({ resolve, reject });
        socket.write(encodeCommand(args));
      });
    },
    onMessage(listener) {
      listeners.push(listener);
    },
    async close() {
      if (socket.destroyed) return;
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.end();
        // A server that does not close its side promptly must not keep the test alive.
        setTimeout(() => socket.destroy(), 1_000).unref();
      });
    },
  };
}

/** Runs one command on a short-lived raw connection. */
export async function redisCommand(port: number, ...args: string[]): Promise<RespValue> {
  const connection = await connectRaw(port);
  try {
    return await connection.command(...args);
  } finally {
    await connection.close();
  }
}

async function serverPid(port: number, timeoutMs: number): Promise<number> {
  const connection = await connectRaw(port, timeoutMs);
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
