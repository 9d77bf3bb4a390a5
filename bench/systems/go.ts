/**
 * The Go original (github.com/PabloPavan/eventrail) as a bench system: test/go's program, built
 * by the bench before the run (GO_BINARY), serving the Go SSE handler with the router
 * `bench:{scope}:*`. This wrapper speaks the bench's IPC for it: it starts the binary, passes its
 * port on, and answers `stats` from /proc (RSS, CPU, sockets; no V8 heap, no event loop).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { ServerReply, ServerRequest } from '../protocol.js';
import { redisUrl } from './common.js';

const binary = process.env.GO_BINARY;
if (binary === undefined) throw new Error('GO_BINARY is required');
// stdin stays open while this wrapper lives: the Go program exits when it closes.
const child = spawn(binary, ['-redis', redisUrl(), '-scope', 'bench', '-exit-on-stdin-eof'], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const pid = child.pid ?? 0;
const send = (message: ServerReply): void => void process.send?.(message);
/** USER_HZ: clock ticks per second of /proc/PID/stat, 100 on Linux. */
const TICK_US = 10_000;

function status(field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
    readFileSync(`/proc/${pid}/status`, 'utf8'),
  );
  return Number(match?.[1] ?? 0) * 1024;
}

function cpuUs(): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // After the command's closing paren: state is field 3, utime 14 and stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

function sockets(): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

let output = '';
child.stdout.on('data', (chunk: Buffer) => {
  if (output === undefined) return;
  output += chunk.toString('utf8');
  const match = /^listening http:\/\/[^:]+:(\d+)$/m.exec(output);
  if (match) send({ type: 'listening', port: Number(match[1]) });
});
child.once('exit', (code, signal) => {
  console.error(`the Go original exited (${signal ?? code})`);
  process.exit(1);
});
process.on('message', (message: ServerRequest) => {
  if (message.type !== 'stats') return;
  const rss = status('VmRSS');
  // No garbage-collected heap to report apart: the heap columns read the RSS.
  send({
    type: 'stats',
    rss,
    heapUsed: rss,
    external: 0,
    cpuUs: cpuUs(),
    sockets: sockets(),
    loopMaxMs: 0,
  });
});
process.on('disconnect', () => {
  child.removeAllListeners('exit');
  child.kill('SIGKILL');
  process.exit(0);
});
