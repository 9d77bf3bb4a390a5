/** The IPC messages between the primary and its workers: a health question and its answer. */
import type { SseServerHealth } from '../server.js';

/** The environment variable that tells a worker how many workers its box runs. */
export const WORKERS_ENV = 'EVENTRAIL_CLUSTER_WORKERS';

/** The primary asks a worker for its health. */
export interface HealthQuestion {
  readonly eventrail: 'health?';
  readonly requestId: number;
}

/** A worker's answer. */
export interface HealthAnswer {
  readonly eventrail: 'health';
  readonly requestId: number;
  readonly connections: number;
  readonly servers: readonly SseServerHealth[];
}

function tagged(
  message: unknown,
  tag: string,
): message is { eventrail: string; requestId: number } {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { eventrail?: unknown }).eventrail === tag &&
    typeof (message as { requestId?: unknown }).requestId === 'number'
  );
}

export const isHealthQuestion = (message: unknown): message is HealthQuestion =>
  tagged(message, 'health?');

export const isHealthAnswer = (message: unknown): message is HealthAnswer =>
  tagged(message, 'health') && Array.isArray((message as { servers?: unknown }).servers);
