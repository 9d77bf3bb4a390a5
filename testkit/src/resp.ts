/**
 * A tiny RESP2 client, independent of node-redis, so that tests and the bench can act like
 * another program: plain commands, Pub/Sub messages, binary-safe arguments.
 */
import net from 'node:net';

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

function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg, 'utf8') : arg;
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
  /** Sends one command (strings as UTF-8, buffers as they are); resolves with its reply, rejects on an error reply. */
  command(...args: (string | Buffer)[]): Promise<RespValue>;
  /** Pub/Sub messages received by this connection once it subscribed to something. */
  onMessage(listener: (message: RawPubSubMessage) => void): void;
  close(): Promise<void>;
}

const PUSH_KINDS = new Set(['message', 'pmessage', 'smessage']);

/** How {@link connectRaw} connects. */
export interface ConnectOptions {
  /** How long connecting may take; 2,000 ms by default. */
  readonly timeoutMs?: number;
  /** A `CLIENT SETNAME` for the connection, to tell it apart in `CLIENT LIST`. */
  readonly name?: string;
}

/** Opens a raw RESP2 connection to `127.0.0.1:{port}`. */
export async function connectRaw(
  port: number,
  { timeoutMs = 2_000, name }: ConnectOptions = {},
): Promise<RawRedisConnection> {
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

  const connection: RawRedisConnection = {
    command(...args) {
      if (failure) return Promise.reject(failure);
      const command = String(args[0] ?? '').toUpperCase();
      if (command === 'SUBSCRIBE' || command === 'PSUBSCRIBE' || command === 'SSUBSCRIBE') {
        subscribed = true;
      }
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
  if (name !== undefined) {
    try {
      await connection.command('CLIENT', 'SETNAME', name);
    } catch (err) {
      await connection.close();
      throw err;
    }
  }
  return connection;
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
