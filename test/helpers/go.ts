/**
 * The Go eventrail (github.com/PabloPavan/eventrail) as a real process: test/go is a small
 * program of ours that serves the Go original's SSE handler at /events and publishes through its
 * Publisher at /publish. It is built with `go build` into a temporary directory.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingTool } from './ci.js';

const SOURCE_DIR = fileURLToPath(new URL('../go/', import.meta.url));
const START_TIMEOUT_MS = 10_000;

/** Whether `go` is on PATH. */
export const goAvailable: boolean = (() => {
  const result = spawnSync('go', ['version'], { stdio: 'ignore', timeout: 10_000 });
  return result.error === undefined && result.status === 0;
})();

/**
 * The reason to skip the Go interop tests, or `undefined` when `go` is on PATH.
 * @throws when `go` is missing under CI (see `isCi`): CI must not pass by skipping.
 */
export function goSkipReason(): string | undefined {
  if (goAvailable) return undefined;
  return missingTool(
    'go',
    'go not found on PATH',
    'Install Go 1.24 or later (the Go eventrail needs it) to run the interop test with the Go eventrail.',
  );
}

/** The built program: its path, and `remove()` to delete its directory. */
export interface GoBuild {
  readonly binary: string;
  remove(): void;
}

/**
 * Builds test/go into a temporary directory. The first build downloads the modules go.sum pins
 * (through the Go module proxy) and may take a minute.
 * @throws with go's output when the build fails or takes longer than `timeoutMs`.
 */
export async function buildGoInterop(timeoutMs: number): Promise<GoBuild> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'eventrail-go-'));
  const binary = path.join(dir, 'gointerop');
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  const args = ['build', '-buildvcs=false', '-mod=readonly', '-o', binary, '.'];
  // A group of its own, so that a timeout stops the compilers go started too.
  const child = spawn('go', args, {
    cwd: SOURCE_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const append = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const timer = setTimeout(() => {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  }, timeoutMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(
    (resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c, s) => resolve([c, s]));
    },
  ).finally(() => clearTimeout(timer));
  if (code !== 0) {
    remove();
    const why =
      signal === 'SIGKILL'
        ? `did not finish within ${timeoutMs} ms`
        : `failed (${signal ?? `code ${code}`})`;
    const hint =
      signal === 'SIGKILL'
        ? '\nA first build compiles the Go eventrail and go-redis; build once ahead with ' +
          "`cd test/go && go build -o /dev/null .` (as .ci/run does) and Go's build cache " +
          'makes the next one take seconds.'
        : '';
    throw new Error(`go ${args.join(' ')} in ${SOURCE_DIR} ${why}:\n${output}${hint}`);
  }
  return { binary, remove };
}

/** A running Go eventrail server. */
export interface GoServer {
  /** `http://127.0.0.1:{port}`: `/events` and `/publish`. */
  readonly url: string;
  /** What it printed so far (stdout and stderr), for error messages. */
  output(): string;
  /**
   * Publishes through the Go `Publisher`: `PublishEvent` with `data` (raw JSON text, passed as
   * the Go `json.RawMessage`), `PublishType` without.
   */
  publish(channel: string, eventType: string, data?: string): Promise<void>;
  /** SIGTERM, then waits for the exit (SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/** Starts the built program on a free port, pointed at `redisUrl`, with EventNamePrefix `prefix`. */
export async function startGoServer(
  binary: string,
  redisUrl: string,
  prefix: string,
): Promise<GoServer> {
  const args = ['-redis', redisUrl, '-prefix', prefix, '-exit-on-stdin-eof'];
  // stdin stays open as long as this process lives: the program exits when it closes.
  const child: ChildProcess = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', (err) => {
      output += `spawn error: ${err.message}\n`;
      exited = true;
      resolve();
    });
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(new Error(`the Go server did not start within ${START_TIMEOUT_MS} ms:\n${output}`)),
      START_TIMEOUT_MS,
    );
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const match = /^listening (http:\/\/\S+)$/m.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exit.then(() => {
      clearTimeout(timer);
      reject(new Error(`the Go server exited before listening:\n${output}`));
    });
  });
  const stop = async (): Promise<void> => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exit;
    clearTimeout(timer);
  };
  return {
    url,
    output: () => output,
    async publish(channel, eventType, data) {
      const body = `{"channel":${JSON.stringify(channel)},"event_type":${JSON.stringify(eventType)}${data === undefined ? '' : `,"data":${data}`}}`;
      const response = await fetch(`${url}/publish`, { method: 'POST', body });
      if (response.status !== 204) {
        throw new Error(`Go publish answered ${response.status}: ${await response.text()}`);
      }
    },
    stop,
  };
}
