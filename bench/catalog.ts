/** The systems under test: each a server file under bench/systems/ and a way to publish to it. */
import type { ClientKind } from './protocol.js';

/**
 * How the bench publishes, all on one node-redis client (the official client, as an app would):
 * `PUBLISH`, eventrail's own publisher (with the Redis history unless the system's env says
 * HISTORY=off), @socket.io/redis-emitter; or in-process over IPC (memory broker).
 */
export type PublishVia = 'redis' | 'eventrail' | 'ipc' | 'emitter';

export interface SystemSpec {
  readonly name: string;
  readonly file: string;
  readonly env: Readonly<Record<string, string>>;
  readonly client: ClientKind;
  readonly via: PublishVia;
  /** Profiled with --cpu-prof under --profile (every system is, when picked with --only). */
  readonly eventrail: boolean;
}

/** A system's name as a file or directory name (profile labels). */
export const slug = (name: string): string => name.replace(/[^a-z0-9]+/gi, '-');

export const FLOOR = 'floor (node:http)';
export const BETTER_SSE = 'better-sse + bridge';

export const SSE_SYSTEMS: readonly SystemSpec[] = [
  {
    name: 'eventrail/redis',
    file: 'eventrail.ts',
    env: { BROKER: 'redis' },
    client: 'sse',
    via: 'eventrail',
    eventrail: true,
  },
  { name: FLOOR, file: 'floor.ts', env: {}, client: 'sse', via: 'redis', eventrail: false },
  {
    name: BETTER_SSE,
    file: 'better-sse.ts',
    env: {},
    client: 'sse',
    via: 'redis',
    eventrail: false,
  },
  {
    name: 'eventrail/memory',
    file: 'eventrail.ts',
    env: { BROKER: 'memory' },
    client: 'sse',
    via: 'ipc',
    eventrail: true,
  },
];

/**
 * eventrail without the Redis history, published exactly as the floor and better-sse are (node-redis
 * `PUBLISH` of the same payload eventrail's publisher would send): the server-side comparison with
 * nothing else different. Full runs and --only.
 */
export const EVENTRAIL_NO_HISTORY: SystemSpec = {
  name: 'eventrail/redis (no history)',
  file: 'eventrail.ts',
  env: { BROKER: 'redis', HISTORY: 'off' },
  client: 'sse',
  via: 'redis',
  eventrail: true,
};

/** The presence scenario's eventrail (bench/presence): history on, presence events, a 2 s interval. */
export const EVENTRAIL_PRESENCE: SystemSpec = {
  ...EVENTRAIL_NO_HISTORY,
  name: 'eventrail/redis (presence)',
  env: { BROKER: 'redis', PRESENCE_INTERVAL_MS: '2000' },
  via: 'eventrail',
};

export const SOCKET_IO: SystemSpec = {
  name: 'socket.io + redis-adapter',
  file: 'socketio.ts',
  env: {},
  client: 'sio',
  via: 'emitter',
  eventrail: false,
};

/**
 * The Go original (github.com/PabloPavan/eventrail, test/go's program around its SSE handler),
 * published to as the floor is (`PUBLISH` of eventrail's payload). In the fan-out scenario when
 * `go` is on PATH: the bench builds it first and passes its path as GO_BINARY.
 */
export const GO_ORIGINAL: SystemSpec = {
  name: 'Go original',
  file: 'go.ts',
  env: {},
  client: 'sse',
  via: 'redis',
  eventrail: false,
};

/**
 * The "all cores" scenario (`--scenarios cores`): eventrail/redis and the floor each forked onto
 * every core with node:cluster by bench/systems/cluster.ts (one worker per core, sharing the
 * port), against the Go original (which uses every core by itself). One scope, as the fan-out.
 */
export const CORES_EVENTRAIL: SystemSpec = {
  name: 'eventrail/redis, all cores',
  file: 'cluster.ts',
  env: { CLUSTER_FILE: 'eventrail.ts', BROKER: 'redis', WORKERS: 'auto' },
  client: 'sse',
  via: 'eventrail',
  eventrail: true,
};
export const CORES_FLOOR: SystemSpec = {
  name: 'floor (node:http), all cores',
  file: 'cluster.ts',
  env: { CLUSTER_FILE: 'floor.ts', WORKERS: 'auto' },
  client: 'sse',
  via: 'redis',
  eventrail: false,
};
