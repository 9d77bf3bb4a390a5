/**
 * A TCP proxy in front of a test Redis that can turn the subscriber's connection into a black hole:
 * still open, nothing passes. That is the "open but dead" subscription a failover behind a proxy
 * leaves, which only a liveness probe can find.
 */
import net from 'node:net';

interface Pair {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  subscriber: boolean;
  dead: boolean;
  /** Client bytes waiting behind a delayed command (see `delayCommands`), in order. */
  delayed?: Buffer[];
  /** Redis bytes waiting for the subscriber under `throttleSubscribers`, in order. */
  throttled?: Buffer[];
}

export interface TcpProxy {
  readonly url: string;
  readonly port: number;
  /** Stops forwarding, both ways, on every connection that has subscribed so far. */
  blackholeSubscribers(): number;
  /**
   * From now on, a client's command that matches `pattern` (one naming a scope, say) reaches Redis
   * `ms` late, and so does everything that client writes after it meanwhile (the commands
   * pipelined before it in the same write pass at once).
   */
  delayCommands(pattern: RegExp, ms: number): void;
  /**
   * Hands Redis's bytes to every connection that has subscribed at `bytesPerSecond` at most (a
   * subscriber behind a burst it reads slowly, not a deaf one); undefined lets what waits through
   * at once and ends the throttle.
   */
  throttleSubscribers(bytesPerSecond: number | undefined): void;
  /** While on, new connections are closed at once (Redis unreachable through this proxy). */
  refuseNew(on: boolean): void;
  /**
   * While on, new connections are accepted and then black-holed from the start: a connect that
   * never completes (a node that takes the connection but never answers).
   */
  stallNew(on: boolean): void;
  close(): Promise<void>;
}

const SUBSCRIBING = /(?:^|\r\n)\*\d+\r\n\$\d+\r\n[PS]?SUBSCRIBE\r\n/i;

export async function startProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let refusing = false;
  let stalling = false;
  let delay: { pattern: RegExp; ms: number } | undefined;
  let throttle: NodeJS.Timeout | undefined;
  /** Hands each throttled subscriber up to `bytes` of what waits for it. */
  const drip = (bytes: number): void => {
    for (const pair of pairs) {
      const waiting = pair.throttled;
      let budget = bytes;
      while (waiting && waiting.length > 0 && budget > 0) {
        const chunk = waiting[0] as Buffer;
        const part = chunk.subarray(0, budget);
        if (part.length === chunk.length) waiting.shift();
        else waiting[0] = chunk.subarray(part.length);
        budget -= part.length;
        if (!pair.dead) pair.client.write(part);
      }
    }
  };
  const server = net.createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pair: Pair = { client, upstream, subscriber: false, dead: stalling };
    pairs.add(pair);
    client.on('data', (data) => {
      // A command whose name is SUBSCRIBE, PSUBSCRIBE or SSUBSCRIBE (not one that only mentions
      // it, like COMMAND INFO SSUBSCRIBE).
      const text = data.toString('latin1');
      if (SUBSCRIBING.test(text)) pair.subscriber = true;
      if (pair.dead) return;
      if (pair.delayed) {
        pair.delayed.push(data);
      } else if (delay?.pattern.test(text)) {
        // Pipelined commands arrive in one write: those before the matching one pass now.
        const at = text.search(delay.pattern);
        const before = text.lastIndexOf('\r\n*', at);
        const start = before < 0 ? 0 : before + 2;
        if (start > 0) upstream.write(data.subarray(0, start));
        const delayed = [data.subarray(start)];
        pair.delayed = delayed;
        setTimeout(() => {
          pair.delayed = undefined;
          for (const chunk of delayed) if (!pair.dead) upstream.write(chunk);
        }, delay.ms);
      } else upstream.write(data);
    });
    upstream.on('data', (data) => {
      if (pair.throttled) pair.throttled.push(data);
      else if (!pair.dead) client.write(data);
    });
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    blackholeSubscribers() {
      let count = 0;
      for (const pair of pairs) {
        if (pair.subscriber && !pair.dead) {
          pair.dead = true;
          count++;
        }
      }
      return count;
    },
    delayCommands(pattern, ms) {
      delay = { pattern, ms };
    },
    throttleSubscribers(bytesPerSecond) {
      clearInterval(throttle);
      throttle = undefined;
      if (bytesPerSecond === undefined) {
        drip(Number.POSITIVE_INFINITY);
        for (const pair of pairs) pair.throttled = undefined;
        return;
      }
      for (const pair of pairs) if (pair.subscriber) pair.throttled ??= [];
      throttle = setInterval(() => drip(Math.ceil(bytesPerSecond / 50)), 20);
    },
    refuseNew(on) {
      refusing = on;
    },
    stallNew(on) {
      stalling = on;
    },
    async close() {
      clearInterval(throttle);
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
