/**
 * An nginx of its own for a test: Debian's binary started on free ports with a prefix folder and a
 * configuration of the test's, never the system's service. The configuration is the block
 * `eventrail.conf` of docs/proxies.md with the test's ports and certificate put in place of the
 * addresses it shows, so that the documented snippet is the tested one.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULTS } from '../../src/options.js';
import { missingTool } from './ci.js';
import { namedBlock } from './doc-blocks.js';
import { findFreePort } from './redis.js';
import { sleep } from './sse.js';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((bin) => existsSync(bin)) ?? 'nginx';

/** Why the nginx tests skip (no nginx, no openssl), or undefined; throws under CI. */
export function nginxSkipReason(): string | undefined {
  if (spawnSync(NGINX, ['-v'], { stdio: 'ignore' }).status !== 0)
    return missingTool('nginx', 'nginx is not installed', 'Install it: `apt-get install nginx`.');
  if (spawnSync('openssl', ['version'], { stdio: 'ignore' }).status !== 0)
    return missingTool(
      'openssl',
      'openssl is not installed',
      'Install it: `apt-get install openssl`.',
    );
  return undefined;
}

/** The documented snippet's stand-ins, each replaced by the test's own value. */
export const PLACEHOLDERS = {
  http: 'listen 80;',
  https: 'listen 443 ssl http2;',
  first: 'server 127.0.0.1:3001 ',
  second: 'server 127.0.0.1:3002 ',
  cert: '/etc/nginx/tls/eventrail.crt',
  key: '/etc/nginx/tls/eventrail.key',
} as const;

/** docs/proxies.md's `eventrail.conf`, as written there. */
export function documentedConfig(): string {
  return namedBlock('docs/proxies.md', 'eventrail.conf').code;
}

/** A running nginx. */
export interface NginxProcess {
  /** `http://127.0.0.1:<port>` (HTTP/1.1). */
  readonly http: string;
  /** `https://127.0.0.1:<port>` (HTTP/2 over TLS, and HTTP/1.1). */
  readonly https: string;
  /** The self-signed certificate it serves (PEM), for a client's `ca`. */
  readonly cert: Buffer;
  /** What nginx wrote to its error log and stderr. */
  log(): string;
  stop(): Promise<void>;
}

function replaceOnce(config: string, from: string, to: string): string {
  const parts = config.split(from);
  if (parts.length !== 2)
    throw new Error(`docs/proxies.md's eventrail.conf must hold "${from}" once`);
  return parts.join(to);
}

/**
 * Starts nginx with docs/proxies.md's snippet inside `http {}`, the upstream servers at `upstreams`
 * (two ports on 127.0.0.1); resolves once it answers. `heartbeatMs` is the instances' heartbeat:
 * the snippet's `proxy_read_timeout`, written against the default heartbeat (30 s), is scaled by
 * the same factor, so that a test sees in seconds what the documented pair does in minutes.
 */
export async function startNginx(
  upstreams: readonly [number, number],
  heartbeatMs: number = DEFAULTS.heartbeatMs,
): Promise<NginxProcess> {
  const snippet = documentedConfig();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'eventrail-nginx-'));
  // nginx's workers run as nobody when the master is root: they must reach the temp folders.
  chmodSync(dir, 0o755);
  for (const sub of ['tmp', 'logs']) mkdirSync(path.join(dir, sub));
  const cert = path.join(dir, 'eventrail.crt');
  const key = path.join(dir, 'eventrail.key');
  const made = spawnSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1'],
      ...['-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
      ...['-keyout', key, '-out', cert],
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 },
  );
  if (made.status !== 0) throw new Error(`openssl could not make a certificate: ${made.stderr}`);
  const [httpPort, httpsPort] = [await findFreePort(), await findFreePort()];
  let config = snippet;
  config = replaceOnce(config, PLACEHOLDERS.http, `listen 127.0.0.1:${httpPort};`);
  config = replaceOnce(config, PLACEHOLDERS.https, `listen 127.0.0.1:${httpsPort} ssl http2;`);
  config = replaceOnce(config, PLACEHOLDERS.first, `server 127.0.0.1:${upstreams[0]} `);
  config = replaceOnce(config, PLACEHOLDERS.second, `server 127.0.0.1:${upstreams[1]} `);
  config = replaceOnce(config, PLACEHOLDERS.cert, cert);
  config = replaceOnce(config, PLACEHOLDERS.key, key);
  const readTimeout = /proxy_read_timeout (\d+)s;/.exec(config);
  if (!readTimeout?.[1])
    throw new Error("docs/proxies.md's eventrail.conf has no proxy_read_timeout");
  const scaled = Math.round((Number(readTimeout[1]) * 1000 * heartbeatMs) / DEFAULTS.heartbeatMs);
  config = replaceOnce(config, readTimeout[0], `proxy_read_timeout ${scaled}ms;`);
  const tmp = (name: string) => `${name}_temp_path ${dir}/tmp/${name};`;
  const file = path.join(dir, 'nginx.conf');
  writeFileSync(
    file,
    [
      'worker_processes 1;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/logs/error.log warn;`,
      'events { worker_connections 512; }',
      'http {',
      '  access_log off;',
      `  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(tmp).join('\n  ')}`,
      config,
      '}',
      '',
    ].join('\n'),
  );
  let output = '';
  const child: ChildProcess = spawn(
    NGINX,
    ['-p', dir, '-c', file, '-e', `${dir}/logs/error.log`, '-g', 'daemon off;'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.on('exit', () => child.kill('SIGKILL'));
  const log = () => {
    const errors = path.join(dir, 'logs', 'error.log');
    return `${output}${existsSync(errors) ? readFileSync(errors, 'utf8') : ''}`;
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const http = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}:\n${log()}`);
    const up = await fetch(`${http}/stats`).then(
      (r) => r.arrayBuffer().then(() => true),
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nginx did not answer within 20 s:\n${log()}`);
    }
    await sleep(50);
  }
  const pem = readFileSync(cert);
  return { http, https: `https://127.0.0.1:${httpsPort}`, cert: pem, log, stop };
}
