/**
 * The server side of the scaling scenario: INSTANCES eventrail Redis brokers in one process, each
 * standing for one server instance with its own subscriber connection (on a Redis Cluster, one per
 * shard), holding scopes open as a server's hubs do: `broker.subscribe('bench:{n}:*')`, one per
 * scope, through the real broker code (the hub and the SSE connections above it are not here).
 * It times every event it receives (the payload carries its publish time). Run with --expose-gc
 * by bench/scaling/scenario.ts, with CHANNELS (pattern | sharded) and REDIS_URL or REDIS_CLUSTER
 * (comma-separated node URLs).
 */
import type { Broker, BrokerMessage } from 'eventrail';
import { createRedisBroker } from 'eventrail/redis';
import { Hist } from '../hist.js';
import { nowUs } from '../protocol.js';
import type { HolderReply, HolderRequest } from './protocol.js';

const send = (message: HolderReply): void => void process.send?.(message);
const gc = (globalThis as { gc?: () => void }).gc;
const channels = process.env.CHANNELS === 'sharded' ? 'sharded' : 'pattern';
const cluster = process.env.REDIS_CLUSTER;
const instances = Number(process.env.INSTANCES ?? 10);

let gaps = 0;
let errors = 0;
const brokers: Broker[] = Array.from({ length: instances }, () =>
  createRedisBroker({
    ...(cluster
      ? { cluster: { rootNodes: cluster.split(',').map((url) => ({ url })) } }
      : { url: process.env.REDIS_URL as string, channels }),
    onError: () => {
      errors++;
    },
  }),
);

let fromSeq = 0;
let received = 0;
let hist = new Hist();
const onMessage = (message: BrokerMessage): void => {
  // As a hub does once per event: parse the payload (eventrail's `{event_type, data, ...}`).
  const { data } = JSON.parse(message.payload) as { data: { s: number; t: number } };
  if (data.s < fromSeq) return;
  received++;
  hist.add(nowUs() - data.t);
};
const onGap = (): void => {
  gaps++;
};

async function open(from: number, to: number): Promise<HolderReply> {
  let failed = 0;
  let error: string | undefined;
  // A few thousand SUBSCRIBEs in flight at a time, as many hubs opening at once would send.
  for (let start = from; start <= to; start += 2000) {
    const batch: Promise<unknown>[] = [];
    for (let scope = start; scope <= Math.min(to, start + 1999); scope++) {
      const broker = brokers[scope % instances] as Broker;
      batch.push(
        broker.subscribe(`bench:${scope}:*`, onMessage, onGap).catch((err: unknown) => {
          failed++;
          error ??= String(err);
        }),
      );
    }
    await Promise.all(batch);
  }
  const opened = to - from + 1 - failed;
  return error === undefined
    ? { type: 'opened', scopes: opened, failed }
    : { type: 'opened', scopes: opened, failed, error };
}

process.on('message', (request: HolderRequest) => {
  switch (request.type) {
    case 'open':
      void open(request.from, request.to).then(send);
      return;
    case 'reset':
      fromSeq = request.fromSeq;
      received = 0;
      hist = new Hist();
      send({ type: 'reset' });
      return;
    case 'report': {
      const cpu = process.cpuUsage();
      send({
        type: 'report',
        received,
        hist: hist.pairs(),
        cpuUs: cpu.user + cpu.system,
        gaps,
        errors,
      });
      return;
    }
    case 'memory': {
      // Twice: the first pass may only queue weak callbacks and finalizers.
      gc?.();
      gc?.();
      const { rss, heapUsed } = process.memoryUsage();
      send({ type: 'memory', rss, heapUsed });
      return;
    }
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
