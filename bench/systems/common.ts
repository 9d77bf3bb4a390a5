/**
 * What every system server shares: listen on a free loopback port, tell the bench over IPC, answer
 * its `stats` requests (after a full GC when asked; servers run with --expose-gc) and exit with it.
 */
import type { Server } from 'node:http';
import type { ServerReply, ServerRequest, Tick } from '../protocol.js';
import { loopDelay } from '../stalls.js';

const send = (message: ServerReply): void => void process.send?.(message);
const gc = (globalThis as { gc?: () => void }).gc;
const delay = loopDelay();

function sockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
}

export interface ServeOptions {
  /** In-process publishing (memory broker only). */
  publish?: (channel: string, tick: Tick) => void;
}

export function serve(server: Server, options: ServeOptions = {}): void {
  process.on('message', (message: ServerRequest) => {
    if (message.type === 'publish') {
      const publish = options.publish;
      if (publish) for (const event of message.events) publish(event.channel, event.tick);
      return;
    }
    if (message.mark === 'start') delay.reset();
    if (message.mark) {
      process.stdout.write(
        `[bench] window ${message.mark} at ${performance.now().toFixed(0)} ms\n`,
      );
    }
    if (message.gc && gc) {
      // Twice: the first pass may only queue weak callbacks and finalizers.
      gc();
      gc();
    }
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    send({
      type: 'stats',
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      external: memory.external,
      cpuUs: cpu.user + cpu.system,
      sockets: sockets(),
      loopMaxMs: delay.maxMs(),
    });
  });
  process.on('disconnect', () => process.exit(0));
  // Exit at once, writing the CPU profile of --cpu-prof (SIGKILL would not).
  process.once('SIGUSR2', () => process.exit(0));
  // The kernel caps the backlog at net.core.somaxconn (4096 on this machine): a storm's connects
  // beyond what the accept queue holds are dropped there alike for every system (bench/listen-drops.ts).
  server.listen({ port: 0, host: '127.0.0.1', backlog: 16384 }, () => {
    const address = server.address();
    if (typeof address === 'object' && address) send({ type: 'listening', port: address.port });
  });
}

export function redisUrl(): string {
  const url = process.env.REDIS_URL;
  if (url === undefined) throw new Error('REDIS_URL is required');
  return url;
}

/** `?scope=N` of a request URL, or 0 when absent or malformed. */
export function scopeOf(url: string | undefined): number {
  const match = /[?&]scope=(\d{1,9})/.exec(url ?? '');
  return match ? Number(match[1]) : 0;
}

export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
};

/**
 * Reference-counted per-scope subscriptions, as every Redis-backed system here needs them: the
 * first member subscribes, the last one's departure unsubscribes after `idleMs`.
 */
export class ScopeSubscriptions<M> {
  private readonly members = new Map<number, Set<M>>();
  private readonly ready = new Map<number, Promise<void>>();

  constructor(
    private readonly subscribe: (scope: number, members: Set<M>) => Promise<void>,
    private readonly unsubscribe: (scope: number) => Promise<void>,
    private readonly idleMs = 1000,
  ) {}

  async join(scope: number, member: M): Promise<void> {
    let set = this.members.get(scope);
    if (set === undefined) {
      set = new Set();
      this.members.set(scope, set);
      this.ready.set(scope, this.subscribe(scope, set));
    }
    set.add(member);
    await this.ready.get(scope);
  }

  leave(scope: number, member: M): void {
    const set = this.members.get(scope);
    if (!set?.delete(member) || set.size > 0) return;
    setTimeout(() => {
      if (set.size > 0 || this.members.get(scope) !== set) return;
      this.members.delete(scope);
      const ready = this.ready.get(scope);
      this.ready.delete(scope);
      void ready?.then(() => this.unsubscribe(scope));
    }, this.idleMs).unref();
  }
}
