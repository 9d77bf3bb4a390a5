/**
 * The primary of a box: forks the workers, replaces one that dies, asks them for their health, and
 * ends them all on shutdown (SIGTERM, then SIGKILL after a timeout). It serves no stream itself.
 */
import cluster, { type Worker } from 'node:cluster';
import { isHealthAnswer, WORKERS_ENV } from './messages.js';
import type { BoxHealth, ClusterOptions, ClusterPrimary, WorkerHealth } from './types.js';

/** A replacement that dies sooner than this after its start counts as a failed start. */
const STARTUP_MS = 10_000;
/** The longest wait before a replacement, however many starts failed. */
const MAX_RESTART_DELAY_MS = 30_000;
const HEALTH_TIMEOUT_MS = 2_000;

export interface PrimaryConfig {
  readonly size: number;
  readonly shutdownTimeoutMs: number;
  readonly restartDelayMs: number;
  readonly logger: ClusterOptions['logger'];
}

/** Forks `size` workers of this script and keeps that many alive until {@link ClusterPrimary.close}. */
export function startPrimary(config: PrimaryConfig): ClusterPrimary {
  const { size, logger } = config;
  const live = new Map<number, { worker: Worker; startedAt: number }>();
  const restarts = new Set<NodeJS.Timeout>();
  /** Replacements in a row that died during their start-up. */
  let failedStarts = 0;
  let closing: Promise<void> | undefined;
  let requestId = 0;
  const answers = new Map<number, (message: WorkerHealthAnswer) => void>();

  type WorkerHealthAnswer = { connections: number; servers: WorkerHealth['servers'] };

  const fork = (): void => {
    const worker = cluster.fork({ [WORKERS_ENV]: String(size) });
    live.set(worker.id, { worker, startedAt: Date.now() });
  };

  const replace = (died: { startedAt: number }): void => {
    failedStarts = Date.now() - died.startedAt < STARTUP_MS ? failedStarts + 1 : 0;
    const delay = Math.min(MAX_RESTART_DELAY_MS, config.restartDelayMs * 2 ** failedStarts);
    const timer = setTimeout(() => {
      restarts.delete(timer);
      if (closing === undefined) fork();
    }, delay);
    restarts.add(timer);
    logger?.info({ delayMs: delay }, 'eventrail cluster: replacing a worker');
  };

  const onExit = (worker: Worker, code: number | null, signal: string | null): void => {
    const entry = live.get(worker.id);
    if (entry === undefined) return;
    live.delete(worker.id);
    if (closing !== undefined) return;
    logger?.warn(
      { worker: worker.id, pid: worker.process.pid, code, signal },
      'eventrail cluster: a worker died',
    );
    replace(entry);
  };

  const onMessage = (_worker: Worker, message: unknown): void => {
    if (!isHealthAnswer(message)) return;
    answers.get(message.requestId)?.(message);
  };
  cluster.on('exit', onExit);
  cluster.on('message', onMessage);

  const ask = (worker: Worker, timeoutMs: number): Promise<WorkerHealth> => {
    const id = requestId++;
    const pid = worker.process.pid ?? 0;
    return new Promise((resolve) => {
      const done = (answer: WorkerHealthAnswer | undefined): void => {
        clearTimeout(timer);
        answers.delete(id);
        const servers = answer?.servers ?? [];
        resolve({
          id: worker.id,
          pid,
          ok: servers.length > 0 && servers.every((s) => s.ok),
          answered: answer !== undefined,
          connections: answer?.connections ?? 0,
          servers,
        });
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      answers.set(id, done);
      if (!worker.isConnected()) return done(undefined);
      worker.send({ eventrail: 'health?', requestId: id }, (err) => {
        if (err) done(undefined);
      });
    });
  };

  /** Resolves when `worker` has exited; SIGKILL if it did not within the shutdown timeout. */
  const end = (worker: Worker): Promise<void> =>
    new Promise((resolve) => {
      const proc = worker.process;
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      const timer = setTimeout(() => {
        logger?.warn(
          { worker: worker.id, pid: proc.pid, timeoutMs: config.shutdownTimeoutMs },
          'eventrail cluster: a worker did not end after SIGTERM; killing it',
        );
        proc.kill('SIGKILL');
      }, config.shutdownTimeoutMs);
      proc.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      proc.kill('SIGTERM');
    });

  const box: ClusterPrimary = {
    size,
    pids: () => [...live.values()].flatMap(({ worker }) => worker.process.pid ?? []),
    async health(timeoutMs = HEALTH_TIMEOUT_MS) {
      const workers = await Promise.all([...live.values()].map((e) => ask(e.worker, timeoutMs)));
      const result: BoxHealth = {
        ok: workers.length === size && workers.every((w) => w.ok),
        expected: size,
        connections: workers.reduce((n, w) => n + w.connections, 0),
        workers,
      };
      return result;
    },
    close() {
      closing ??= (async () => {
        for (const timer of restarts) clearTimeout(timer);
        restarts.clear();
        await Promise.all([...live.values()].map(({ worker }) => end(worker)));
        cluster.off('exit', onExit);
        cluster.off('message', onMessage);
      })();
      return closing;
    },
  };
  for (let i = 0; i < size; i++) fork();
  return box;
}
