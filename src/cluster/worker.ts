/** A worker's side of the box: answers the primary's health questions, ends when it is gone. */
import type { Worker } from 'node:cluster';
import { type HealthAnswer, isHealthQuestion } from './messages.js';
import type { ClusterMember, ReportedServer } from './types.js';

/** The servers this process reports, and the answer it gives about them. */
class Reported {
  readonly #servers = new Set<ReportedServer>();

  add(server: ReportedServer): () => void {
    this.#servers.add(server);
    return () => void this.#servers.delete(server);
  }

  answer(requestId: number): HealthAnswer {
    let connections = 0;
    const servers = [];
    for (const server of this.#servers) {
      connections += server.stats().connections;
      servers.push(server.health());
    }
    return { eventrail: 'health', requestId, connections, servers };
  }
}

/** This process without a cluster: the box is this one process. */
export function soleMember(): ClusterMember {
  return { id: 0, workers: 1, observe: () => () => {} };
}

/**
 * This process as a worker of `workers`: it answers the primary's health questions. (A worker
 * whose primary is gone, even killed with SIGKILL, ends at once: node:cluster's own doing.)
 */
export function workerMember(worker: Worker, workers: number): ClusterMember {
  const reported = new Reported();
  process.on('message', (message: unknown): void => {
    if (!isHealthQuestion(message) || !process.connected) return;
    process.send?.(reported.answer(message.requestId));
  });
  // Listening for messages refs the IPC channel (on the next tick); it must not keep this process
  // alive once the script has closed everything it opened.
  setImmediate(() => process.channel?.unref());
  return { id: worker.id, workers, observe: (server) => reported.add(server) };
}
