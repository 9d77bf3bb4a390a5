/** Starts a throwaway `redis-server` on a free port of 127.0.0.1 for `npm run demo:cluster`. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import net from 'node:net';

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

/** Starts redis-server (no persistence) and resolves once it answers PING. */
export async function startLocalRedis(): Promise<LocalRedis> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
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
