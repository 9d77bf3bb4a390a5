/**
 * The floor of the storm: bare node:http and ONE node-redis subscriber (one pattern, every scope),
 * each scope's last KEEP events framed once and kept in memory, so that a stream coming back with
 * `Last-Event-ID` gets what it missed in one write straight from memory, then the live events.
 * The least a server can do for a storm: no Redis read, no backpressure, no heartbeat, no auth, no
 * admission. Its frames are as long as eventrail's (the id padded to the length of eventrail's
 * ids here), its hello and its `retry:` the same, and on SIGTERM it drains as eventrail does: the
 * listener closes and the streams end at an even pace over DRAIN_MS, at no less than 1,000 a
 * second. Run by bench/storm/scenario.ts in the floor's rounds, so that the time a storm takes on
 * this machine's clients is measured beside eventrail's.
 */
import { createServer, type ServerResponse } from 'node:http';
import { createClient } from 'redis';
import { redisUrl, SSE_HEADERS, scopeOf, serve } from '../systems/common.js';

/** Events kept per scope: the storm's BEHIND (500) and the steady events around it, with room. */
const KEEP = 4000;
/** The drain window and the least closing rate, eventrail's defaults. */
const DRAIN_MS = 10_000;
const DRAIN_LEAST_PER_SECOND = 1000;
/** eventrail's ids here (`{tag}_{ms36}-{seq36}-{epoch36}`) are about this long. */
const ID_LENGTH = 22;

class Scope {
  /** Frames of seq `first`, `first + 1`...; the id of seq s is s + 1 (the events seen). */
  frames: Buffer[] = [];
  first = 0;
  readonly members = new Set<ServerResponse>();

  get next(): number {
    return this.first + this.frames.length;
  }

  add(seq: number, frame: Buffer): void {
    if (this.frames.length === 0) this.first = seq;
    this.frames.push(frame);
    if (this.frames.length > 2 * KEEP) {
      this.frames = this.frames.slice(-KEEP);
      this.first = seq + 1 - KEEP;
    }
    for (const res of this.members) res.write(frame);
  }

  /** The frames after `id` (the events seen), or null when they are not all kept. */
  since(id: number): Buffer | null {
    if (id >= this.next) return Buffer.alloc(0);
    if (id < this.first) return null;
    return Buffer.concat(this.frames.slice(id - this.first));
  }
}

const scopes = new Map<number, Scope>();
const scopeNamed = (n: number): Scope => {
  let scope = scopes.get(n);
  if (scope === undefined) {
    scope = new Scope();
    scopes.set(n, scope);
  }
  return scope;
};
const idOf = (next: number): string => String(next).padStart(ID_LENGTH, '0');

const subscriber = createClient({ url: redisUrl() });
await subscriber.connect();
await subscriber.pSubscribe('bench:*', (payload, channel) => {
  const n = Number(channel.split(':')[1]);
  const { event_type: type, data } = JSON.parse(payload) as {
    event_type: string;
    data: { s: number };
  };
  const scope = scopeNamed(n);
  // Out of order cannot happen on one connection; a gap would be the floor's own bug: keep none.
  if (scope.frames.length > 0 && data.s !== scope.next) return;
  scope.add(
    data.s,
    Buffer.from(`id: ${idOf(data.s + 1)}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`),
  );
});

const open = new Set<ServerResponse>();
const server = createServer((req, res) => {
  const n = scopeOf(req.url);
  if (!req.url?.startsWith('/events') || n === 0) {
    res.writeHead(404).end();
    return;
  }
  const scope = scopeNamed(n);
  const last = req.headers['last-event-id'];
  const missed = typeof last === 'string' ? scope.since(Number(last)) : Buffer.alloc(0);
  if (missed === null) {
    res.writeHead(410).end();
    return;
  }
  res.socket?.setNoDelay(true);
  res.writeHead(200, SSE_HEADERS);
  // The hello (as eventrail's: a jittered retry and the id of the newest event), then the replay.
  const retry = 3000 + Math.floor(Math.random() * 5000);
  res.write(Buffer.concat([Buffer.from(`retry: ${retry}\nid: ${idOf(scope.next)}\n\n`), missed]));
  scope.members.add(res);
  open.add(res);
  res.once('close', () => {
    scope.members.delete(res);
    open.delete(res);
  });
});

process.once('SIGTERM', () => {
  server.close();
  const all = [...open];
  const perTick = Math.ceil(Math.max(DRAIN_LEAST_PER_SECOND, (all.length * 1000) / DRAIN_MS) / 100);
  const timer = setInterval(() => {
    for (const res of all.splice(0, perTick)) res.end();
    if (all.length === 0) {
      clearInterval(timer);
      void subscriber.quit().then(() => process.exit(0));
    }
  }, 10);
});
serve(server);
