/**
 * A load worker: a separate process holding a share of the connections. It counts deliveries,
 * keeps a latency histogram, tells the bench which event seqs all its connections have, and
 * reports its own CPU so that a reader can see it was not the bottleneck.
 */
import { Hist } from '../hist.js';
import type { ClientKind, WorkerReply, WorkerRequest } from '../protocol.js';
import { loopDelay } from '../stalls.js';
import { openSio } from './sio.js';
import { openSse } from './sse.js';
import type { Conn, ConnEvents, Driver } from './types.js';

const drivers: Record<ClientKind, Driver> = { sse: openSse, sio: openSio };
const send = (message: WorkerReply): void => void process.send?.(message);

let conns: Conn[] = [];
/** Live connections per scope: an event of a scope is done when all of them have it. */
const perScope = new Map<number, number>();
const pending = new Map<number, number>();
let doneBatch: number[] = [];
let hist = new Hist();
/** Events published before this seq are not counted (see the 'reset' request). */
let fromSeq = 0;
const delay = loopDelay();
let deliveries = 0;
let frames = 0;
let bytes = 0;
let dropped = 0;

function flushDone(): void {
  if (doneBatch.length === 0) return;
  send({ type: 'done', seqs: doneBatch });
  doneBatch = [];
}

function tracked(scope: number, onOpen: () => void, onFail: (r: string) => void): ConnEvents {
  let live = false;
  return {
    open() {
      live = true;
      perScope.set(scope, (perScope.get(scope) ?? 0) + 1);
      onOpen();
    },
    fail: onFail,
    ended() {
      if (!live) return;
      live = false;
      perScope.set(scope, (perScope.get(scope) ?? 1) - 1);
      dropped++;
    },
    tick(seq, sentUs, nowUs) {
      if (seq < fromSeq) return;
      deliveries++;
      hist.add(nowUs - sentUs);
      const have = (pending.get(seq) ?? 0) + 1;
      if (have >= (perScope.get(scope) ?? 0)) {
        pending.delete(seq);
        if (doneBatch.length === 0) setTimeout(flushDone, 2);
        doneBatch.push(seq);
      } else {
        pending.set(seq, have);
      }
    },
    frames(n) {
      frames += n;
    },
    bytes(n) {
      bytes += n;
    },
  };
}

async function connect(message: Extract<WorkerRequest, { type: 'connect' }>): Promise<void> {
  const open = drivers[message.kind];
  let next = 0;
  let connected = 0;
  let failed = 0;
  let error: string | undefined;
  await new Promise<void>((resolve) => {
    const settle = (): void => {
      if (connected + failed === message.scopes.length) resolve();
      else if (next < message.scopes.length) start();
    };
    const start = (): void => {
      const scope = message.scopes[next++] as number;
      const events = tracked(
        scope,
        () => {
          connected++;
          settle();
        },
        (reason) => {
          failed++;
          error ??= reason;
          settle();
        },
      );
      conns.push(open(message.port, scope, events));
    };
    if (message.scopes.length === 0) resolve();
    for (let i = 0; i < Math.min(message.concurrency, message.scopes.length); i++) start();
  });
  send({ type: 'ready', connected, failed, ...(error === undefined ? {} : { error }) });
}

async function churn(message: Extract<WorkerRequest, { type: 'churn' }>): Promise<void> {
  const open = drivers[message.kind];
  const start = Date.now();
  let opened = 0;
  let completed = 0;
  let failed = 0;
  let error: string | undefined;
  const live = new Set<Conn>();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = Date.now() - start;
      const due = Math.min(
        Math.floor((Math.min(elapsed, message.durationMs) * message.perSec) / 1000),
        opened + message.perSec, // never more than a second's worth at once
      );
      while (opened < due) {
        const scope = (opened % message.scopes) + 1;
        opened++;
        let conn: Conn | undefined;
        const events = tracked(
          -scope, // churn scopes never take part in delivery accounting
          () =>
            setTimeout(() => {
              if (conn) live.delete(conn);
              conn?.close();
              completed++;
            }, message.holdMs),
          (reason) => {
            if (conn) live.delete(conn);
            failed++;
            error ??= reason;
          },
        );
        conn = open(message.port, scope, events);
        live.add(conn);
      }
      const settled = opened === completed + failed && elapsed >= message.durationMs;
      if (settled || elapsed > message.durationMs + 15_000) {
        clearInterval(timer);
        for (const conn of live) conn.close();
        resolve();
      }
    }, 10);
  });
  send({ type: 'churned', opened, completed, failed, ...(error === undefined ? {} : { error }) });
}

process.on('message', (message: WorkerRequest) => {
  switch (message.type) {
    case 'connect':
      void connect(message);
      return;
    case 'churn':
      void churn(message);
      return;
    case 'reset':
      hist = new Hist();
      fromSeq = message.fromSeq ?? 0;
      delay.reset();
      pending.clear();
      // `dropped` stays: a connection cut while connecting or idle counts too.
      deliveries = frames = bytes = 0;
      return;
    case 'report': {
      const cpu = process.cpuUsage();
      send({
        type: 'report',
        deliveries,
        frames,
        bytes,
        hist: hist.pairs(),
        cpuUs: cpu.user + cpu.system,
        dropped,
        loopMaxMs: delay.maxMs(),
      });
      return;
    }
    case 'close':
      for (const conn of conns) conn.close();
      conns = [];
      dropped = 0;
      perScope.clear();
      pending.clear();
      // Let the FINs go out before saying so.
      setTimeout(() => send({ type: 'closed' }), 200);
      return;
  }
});
process.on('disconnect', () => process.exit(0));
