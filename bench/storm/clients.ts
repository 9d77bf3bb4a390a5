/**
 * A storm client process: thousands of streams, each a raw HTTP/1.0 socket (the body is the bare
 * stream) that behaves as a browser's EventSource does: it keeps the last `id:`, honours `retry:`,
 * and when its stream ends comes back with `Last-Event-ID` through the balancer, here the client's
 * own round robin over the instances' ports (a refused port is skipped). Every stream checks its
 * scope's sequence as it goes (the bench publishes seq 0, 1, 2... per scope): a jump is an event
 * lost, a step back a duplicate. Run by bench/storm/scenario.ts.
 */
import net from 'node:net';
import { digits, FRAME_END, HEAD_END, SEQ, statusOf, TIME } from '../client/sse-bytes.js';
import { Hist } from '../hist.js';
import { nowUs } from '../protocol.js';
import type { StormReply, StormRequest } from './protocol.js';

const send = (message: StormReply): void => void process.send?.(message);
const LF = 10;
const ID = Buffer.from('\nid: ');
const RETRY = Buffer.from('\nretry: ');
const RESYNC = Buffer.from('eventrail.resync');

/**
 * This process's own loopback source address (the bench gives each process of each round its
 * own): with one address for all, the storm's connects search an ephemeral port range mostly taken
 * (18,000 streams, and the earlier rounds' TIME_WAITs) in the kernel, and the clients, not the
 * servers, are the bound.
 */
const localAddress = process.env.BENCH_SOURCE_ADDRESS ?? '127.0.0.1';
let ports: number[] = [];
let nextPort = 0;
let hold = false;
let measurePort = -1;
/** Only events published since `measure` count (not a backlog still being delivered). */
let measureFromUs = 0;
let hist = new Hist();
let lost = 0;
let jumps = 0;
let duplicates = 0;
let resyncs = 0;
let reconnects = 0;
let failedAttempts = 0;
const held: Stream[] = [];

class Stream {
  lastId = '';
  lastSeq = -1;
  retryMs = 3000;
  port = 0;
  /** Lost a connection once (then not the survivor's own). */
  moved = false;
  /** nowUs when its current connection opened; a moved stream is live once it gets an event published after that. */
  openedUs = 0;
  liveUs = 0;
  /** nowUs when its current connection was first tried (debug: how long the head took). */
  triedUs = 0;
  connectedUs = 0;
  /** Called once, at its first `id:` (the hello): a stream deferred by the server is not open yet. */
  private opened: (() => void) | undefined;

  constructor(readonly scope: number) {}

  connect(attempt = 0, opened?: () => void): void {
    this.opened ??= opened;
    if (attempt === 0) this.triedUs = nowUs();
    const port = ports[nextPort++ % ports.length] as number;
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    const lastEventId = this.lastId === '' ? '' : `Last-Event-ID: ${this.lastId}\r\n`;
    socket.write(
      `GET /events?scope=${this.scope} HTTP/1.0\r\nHost: 127.0.0.1\r\n${lastEventId}\r\n`,
    );
    let head = true;
    let carry: Buffer | null = null;
    let ok = false;
    socket.on('data', (chunk: Buffer) => {
      const buf = carry === null ? chunk : Buffer.concat([carry, chunk]);
      carry = null;
      let at = 0;
      if (head) {
        const end = buf.indexOf(HEAD_END);
        if (end < 0) {
          carry = buf;
          return;
        }
        if (statusOf(buf) !== '200') {
          failedAttempts++;
          socket.destroy();
          return;
        }
        head = false;
        ok = true;
        this.port = port;
        this.openedUs = nowUs();
        // The body starts after the head: a frame's first line has no LF before it.
        at = end + 3;
      }
      const now = nowUs();
      for (;;) {
        const end = buf.indexOf(FRAME_END, at + 1);
        if (end < 0) break;
        this.frame(buf, at, end, now);
        at = end + 1;
      }
      if (at < buf.length) carry = buf.subarray(at);
    });
    socket.on('connect', () => {
      // A refused attempt never connects: this is the attempt that got through.
      this.connectedUs = nowUs();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      if (!ok) {
        failedAttempts++;
        // Refused (the instance is gone or draining): the balancer's next pick, at once.
        if (attempt < ports.length * 20) {
          setTimeout(() => this.connect(attempt + 1), attempt < ports.length ? 0 : 100);
        }
        return;
      }
      // Deferred before it ever opened (maxOpeningsPerSecond): back after its retry, not moved.
      if (this.lastId === '') {
        setTimeout(() => this.connect(), this.retryMs);
        return;
      }
      this.moved = true;
      this.liveUs = 0;
      reconnects++;
      if (hold) held.push(this);
      else setTimeout(() => this.connect(), this.retryMs);
    });
  }

  /** One frame, `buf[at]` the LF before it (or the head's last byte); searched within it only. */
  private frame(buf: Buffer, at: number, end: number, now: number): void {
    const f = buf.subarray(at, end + 1);
    const id = f.indexOf(ID);
    if (id >= 0) {
      this.lastId = f.toString('latin1', id + ID.length, f.indexOf(LF, id + ID.length));
      const opened = this.opened;
      this.opened = undefined;
      opened?.();
    }
    const retry = f.indexOf(RETRY);
    if (retry >= 0) this.retryMs = digits(f, retry + RETRY.length);
    if (f.indexOf(RESYNC) >= 0) resyncs++;
    const s = f.indexOf(SEQ);
    if (s < 0) return;
    const seq = digits(f, s + SEQ.length);
    if (seq <= this.lastSeq) duplicates++;
    else {
      if (seq > this.lastSeq + 1 && process.env.BENCH_DEBUG && jumps++ < 5)
        console.error(
          `jump scope ${this.scope} ${this.lastSeq} -> ${seq} moved ${this.moved} live ${this.liveUs > 0} port ${this.port}`,
        );
      lost += seq - this.lastSeq - 1;
      this.lastSeq = seq;
    }
    const t = f.indexOf(TIME, s);
    const sent = t >= 0 ? digits(f, t + TIME.length) : now;
    if (this.moved && this.liveUs === 0 && sent >= this.openedUs) this.liveUs = now;
    if (!this.moved && this.port === measurePort && sent >= measureFromUs) hist.add(now - sent);
  }
}

const streams: Stream[] = [];

async function open(request: Extract<StormRequest, { type: 'open' }>): Promise<number> {
  // Every first connection to the home instance; from then on, the round robin over all.
  ports = [request.ports[request.home] as number];
  let open = 0;
  // In batches, so the listen backlogs are not overrun.
  for (let i = 0; i < request.count; i += 250) {
    const batch = Math.min(250, request.count - i);
    await new Promise<void>((resolve) => {
      let done = 0;
      for (let j = 0; j < batch; j++) {
        const stream = new Stream(((request.offset + i + j) % request.scopes) + 1);
        streams.push(stream);
        stream.connect(0, () => {
          open++;
          if (++done === batch) resolve();
        });
      }
    });
  }
  ports = request.ports;
  nextPort = request.home + 1;
  return open;
}

function cpuUs(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

let debugged = false;
/** With BENCH_DEBUG, once every moved stream is live: how long heads and replays took. */
function debugOnce(moved: Stream[]): void {
  if (debugged || !process.env.BENCH_DEBUG || moved.length === 0) return;
  if (moved.some((s) => s.liveUs === 0)) return;
  debugged = true;
  const q = (values: number[]): string => {
    const sorted = values.sort((a, b) => a - b);
    const at = (p: number): string =>
      ((sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0) / 1000).toFixed(0);
    return `p50 ${at(0.5)} p90 ${at(0.9)} p99 ${at(0.99)} max ${at(1)} ms`;
  };
  console.error(`connected after try: ${q(moved.map((s) => s.connectedUs - s.triedUs))}`);
  console.error(`head after try: ${q(moved.map((s) => s.openedUs - s.triedUs))}`);
  console.error(`live after head: ${q(moved.map((s) => s.liveUs - s.openedUs))}`);
}

process.on('message', (request: StormRequest) => {
  switch (request.type) {
    case 'open':
      void open(request).then((n) => send({ type: 'opened', open: n }));
      return;
    case 'hold':
      hold = request.hold;
      return;
    case 'release':
      hold = false;
      for (const stream of held.splice(0)) stream.connect();
      return;
    case 'measure':
      measurePort = request.port;
      measureFromUs = nowUs();
      hist = new Hist();
      return;
    case 'report': {
      const moved = streams.filter((s) => s.moved);
      debugOnce(moved);
      send({
        type: 'report',
        streams: streams.length,
        moved: moved.length,
        live: moved.filter((s) => s.liveUs > 0).length,
        lastLiveUs: moved.reduce((n, s) => Math.max(n, s.liveUs), 0),
        lastOpenedUs: moved.reduce((n, s) => Math.max(n, s.openedUs), 0),
        lost,
        duplicates,
        resyncs,
        reconnects,
        failedAttempts,
        cpuUs: cpuUs(),
        hist: hist.pairs(),
      });
      return;
    }
  }
});
process.on('disconnect', () => process.exit(0));
// Exit at once, writing the CPU profile of --cpu-prof (STORM_PROFILE).
process.once('SIGUSR2', () => process.exit(0));
send({ type: 'ready' });
