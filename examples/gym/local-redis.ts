/**
 * Throwaway Redis for `npm run demo:cluster`: one `redis-server`, or a Redis Cluster of six
 * (three masters, one replica each), on free ports of 127.0.0.1, without persistence.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/** A running redis-server. */
export interface LocalRedis {
  readonly url: string;
  /** SIGTERM, SIGKILL after 3 s; resolves when it has exited. */
  stop(): Promise<void>;
}

/** A port the OS says is free right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no free port')),
      );
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk) => done(chunk.toString().startsWith('+PONG')));
  });
}

/** Stops a child: SIGTERM, then SIGKILL after `graceMs`. */
export function stopChild(child: ChildProcess, graceMs = 3_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

// On Linux, `setpriv --pdeathsig KILL` has the kernel kill redis-server if we die, even by SIGKILL.
const setpriv =
  process.platform === 'linux' &&
  spawnSync('setpriv', ['--pdeathsig', 'KILL', 'true'], { stdio: 'ignore' }).status === 0;

/** Starts redis-server (no persistence, plus `extraArgs`) and resolves once it answers PING. */
export async function startLocalRedis(extraArgs: readonly string[] = []): Promise<LocalRedis> {
  const port = await freePort();
  const args = [
    ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    ...extraArgs,
  ];
  const child = setpriv
    ? spawn('setpriv', ['--pdeathsig', 'KILL', 'redis-server', ...args], {
        stdio: ['ignore', 'ignore', 'inherit'],
      })
    : spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new Error(`cannot start redis-server: ${err.message}`)));
    child.once('exit', (code) => reject(new Error(`redis-server exited with code ${code}`)));
  });
  failed.catch(() => {});
  const deadline = Date.now() + 10_000;
  while (!(await Promise.race([ping(port), failed]))) {
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`redis-server on port ${port} did not answer PING within 10 s`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `redis://127.0.0.1:${port}`, stop: () => stopChild(child) };
}

/** A running Redis Cluster. */
export interface LocalRedisCluster {
  /** `host:port` of every node, comma-separated: what REDIS_CLUSTER takes. */
  readonly nodes: string;
  /** The temporary directory of the nodes' files. */
  readonly dir: string;
  /** Stops every node and removes their directory. */
  stop(): Promise<void>;
}

const run = promisify(execFile);

/** `redis-cli -p <port> ...args`, its output. */
async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
    timeout: 20_000,
  });
  return stdout;
}

/**
 * Starts six `redis-server --cluster-enabled yes` in a temporary directory, joins them with
 * `redis-cli --cluster create ... --cluster-replicas 1`, and resolves once every node says
 * `cluster_state:ok`. Needs redis-server and redis-cli (Redis >= 7 for sharded Pub/Sub).
 */
export async function startLocalRedisCluster(): Promise<LocalRedisCluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'eventrail-demo-cluster-'));
  const servers: LocalRedis[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((server) => server.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 6; i++) {
      servers.push(
        await startLocalRedis([
          ...['--cluster-enabled', 'yes', '--dir', dir],
          ...['--cluster-config-file', `nodes-${randomUUID()}.conf`],
          // A replica's full sync writes a dump file: one name per node in the shared directory.
          ...['--dbfilename', `dump-${randomUUID()}.rdb`],
        ]),
      );
    }
    const ports = servers.map((server) => Number(new URL(server.url).port));
    const nodes = ports.map((port) => `127.0.0.1:${port}`);
    await redisCli(
      ports[0] as number,
      ...['--cluster', 'create', ...nodes, '--cluster-replicas', '1', '--cluster-yes'],
    );
    const deadline = Date.now() + 30_000;
    for (const port of ports) {
      while (!/cluster_state:ok/.test(await redisCli(port, 'CLUSTER', 'INFO'))) {
        if (Date.now() > deadline)
          throw new Error(`the Redis Cluster node on ${port} is not ok within 30 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return { nodes: nodes.join(','), dir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
