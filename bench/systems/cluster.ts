/**
 * Any system server of bench/systems on every core: a node:cluster primary (this wrapper, the
 * bench's side, not the project's cluster support) forks WORKERS workers (default: one per core)
 * that each run CLUSTER_FILE and share its port (round-robin, node:cluster's default on Linux).
 * It speaks the bench's IPC for all of them: the port once every worker listens, and `stats`
 * summed over the workers (RSS, heap, CPU, sockets; the longest loop delay of any).
 */
import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ServerReply, ServerRequest } from '../protocol.js';

type Stats = Extract<ServerReply, { type: 'stats' }>;
const file = process.env.CLUSTER_FILE;
if (file === undefined) throw new Error('CLUSTER_FILE is required');
const wanted = process.env.WORKERS;
const count =
  wanted === undefined || wanted === 'auto' ? os.availableParallelism() : Number(wanted);
const send = (message: ServerReply): void => void process.send?.(message);

cluster.setupPrimary({ exec: fileURLToPath(new URL(file, import.meta.url)) });
const workers: Worker[] = [];
const ports = new Set<number>();
const listening = new Set<Worker>();
let stopping = false;
for (let i = 0; i < count; i++) {
  const worker = cluster.fork();
  workers.push(worker);
  worker.on('message', (message: ServerReply) => {
    if (message.type !== 'listening') return;
    ports.add(message.port);
    if (ports.size > 1) throw new Error(`workers listen on different ports: ${[...ports]}`);
    listening.add(worker);
    if (listening.size === count) send({ type: 'listening', port: message.port });
  });
  worker.once('exit', (code, signal) => {
    if (!stopping) {
      console.error(`cluster worker exited (${signal ?? code})`);
      process.exit(1);
    }
  });
}

function statsOf(worker: Worker, request: ServerRequest): Promise<Stats> {
  return new Promise((resolve) => {
    const onMessage = (message: ServerReply): void => {
      if (message.type !== 'stats') return;
      worker.off('message', onMessage);
      resolve(message);
    };
    worker.on('message', onMessage);
    worker.send(request);
  });
}

process.on('message', (request: ServerRequest) => {
  if (request.type !== 'stats') {
    for (const worker of workers) worker.send(request);
    return;
  }
  void Promise.all(workers.map((w) => statsOf(w, request))).then((all) => {
    const mine = process.cpuUsage();
    send({
      type: 'stats',
      rss: all.reduce((n, s) => n + s.rss, process.memoryUsage().rss),
      heapUsed: all.reduce((n, s) => n + s.heapUsed, 0),
      external: all.reduce((n, s) => n + s.external, 0),
      cpuUs: all.reduce((n, s) => n + s.cpuUs, mine.user + mine.system),
      sockets: all.reduce((n, s) => n + s.sockets, 0),
      loopMaxMs: Math.max(...all.map((s) => s.loopMaxMs)),
    });
  });
});
process.on('disconnect', () => {
  stopping = true;
  for (const worker of workers) worker.process.kill('SIGKILL');
  process.exit(0);
});
