/**
 * Child processes of the bench: every one is tracked and SIGKILLed when the bench exits or fails;
 * on Linux `setpriv --pdeathsig KILL` also takes them down if the bench itself is killed (the
 * bookkeeping is @eventrail/testkit's, shared with the tests).
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { killAllChildren, spawnTracked } from '@eventrail/testkit/children';

export { killAllChildren as killAll };

/**
 * Spawns a tracked process; with `ipc` it gets a Node IPC channel. Its stdout is dropped, or
 * appended to `stdoutFile`.
 */
export function launch(
  command: string,
  args: string[],
  label: string,
  ipc = false,
  env: Record<string, string> = {},
  stdoutFile?: string,
): ChildProcess {
  const stdout = stdoutFile === undefined ? 'ignore' : openSync(stdoutFile, 'a');
  const child = spawnTracked(command, args, {
    stdio: ipc ? ['ignore', stdout, 'pipe', 'ipc'] : ['ignore', stdout, 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '', ...env },
  });
  if (typeof stdout === 'number') closeSync(stdout);
  let tail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
    if (process.env.BENCH_DEBUG) process.stderr.write(`[${label}] ${chunk}`);
  });
  child.once('exit', (code, signal) => {
    if (code !== 0 && code !== null && tail.trim() !== '') {
      console.error(`[${label}] exited with ${code}:\n${tail}`);
    } else if (signal !== null && signal !== 'SIGKILL' && signal !== 'SIGTERM') {
      console.error(`[${label}] killed by ${signal}`);
    }
  });
  return child;
}

/** A child with a typed request/answer channel over Node IPC. */
export interface Peer<In, Out extends { type: string }> {
  readonly child: ChildProcess;
  send(message: In): void;
  /** Sends (unless `message` is null) and resolves with the next message of `type`. */
  ask<T extends Out['type']>(
    message: In | null,
    type: T,
    timeoutMs?: number,
  ): Promise<Extract<Out, { type: T }>>;
  on(listener: (message: Out) => void): void;
  kill(): Promise<void>;
  /** Resolves once the child has exited, however. */
  readonly exited: Promise<void>;
}

export function peer<In, Out extends { type: string }>(
  child: ChildProcess,
  label: string,
): Peer<In, Out> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const send = (message: In): void => {
    if (child.connected) child.send(message as object);
  };
  return {
    child,
    exited,
    send,
    ask(message, type, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          child.off('message', onMessage);
          reject(new Error(`${label}: no '${type}' answer within ${timeoutMs} ms`));
        }, timeoutMs);
        const onMessage = (m: Out): void => {
          if (m.type !== type) return;
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve(m as Extract<Out, { type: typeof type }>);
        };
        child.on('message', onMessage);
        exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`${label} exited`));
        });
        if (message !== null) send(message);
      });
    },
    on(listener) {
      child.on('message', listener);
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Node flags that run a TypeScript entry file with tsx. */
export function nodeArgs(file: string, extra: string[] = []): string[] {
  return [...extra, '--conditions=eventrail-src', '--import', 'tsx', file];
}
