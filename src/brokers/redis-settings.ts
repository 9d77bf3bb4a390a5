/**
 * The Redis broker's options, checked before any connection is made (a refused call leaves
 * nothing open), and read into the settings every other part of the broker works from.
 */
import { EventrailError } from '../errors.js';
import type { Logger } from '../types.js';
import { wholeNumber } from '../util/whole-number.js';
import { type HistoryLimits, historyLimits } from './history-store.js';
import type { RedisClusterClient, RedisClusterConfig } from './redis-cluster.js';
import { type HistoryCodeMode, historyCodeMode } from './redis-history-code.js';
import type {
  RedisBrokerOptions,
  RedisPublishClient,
  RedisSubscribeClient,
} from './redis-options.js';
import type { ChannelMode } from './redis-shard.js';

const DEFAULT_PUBLISH_TIMEOUT_MS = 5000;
const DEFAULT_OUTAGE_REMINDER_MS = 30_000;
const DEFAULT_PROBE_INTERVAL_MS = 15_000;
const MODES: readonly ChannelMode[] = ['pattern', 'sharded'];

/** Where the broker's connections come from: one topology. */
export type Topology =
  | { readonly kind: 'url'; readonly url: string }
  | {
      readonly kind: 'given';
      readonly publisher: RedisPublishClient;
      readonly subscriber: RedisSubscribeClient;
    }
  | { readonly kind: 'cluster'; readonly source: RedisClusterConfig | RedisClusterClient };

/** The broker's options, checked and with their defaults. */
export interface RedisSettings {
  readonly topology: Topology;
  readonly publishTimeoutMs: number;
  readonly limits: Required<HistoryLimits>;
  readonly prefix: string;
  /** The mode subscriptions listen in. */
  readonly channels: ChannelMode;
  /** The modes a publish is sent in (the `announce` option). */
  readonly publishModes: readonly ChannelMode[];
  /** Some mode needs sharded Pub/Sub (Redis >= 7). */
  readonly shards: boolean;
  readonly history: boolean;
  readonly historyKeyPrefix: string;
  readonly code: HistoryCodeMode;
  readonly probeIntervalMs: number;
  readonly reminderMs: number;
  readonly onError: (error: Error) => void;
  readonly logger: Logger | undefined;
}

/**
 * Checks a channel or key prefix: empty, or ending with `:`, without whitespace or glob
 * characters. Ending with `:` is what keeps two applications apart: a prefix that does not (`x`)
 * makes `x` + `gym:1:a` the channel `xgym:1:a` of an application without one.
 * @throws {@link EventrailError} `invalid-option`
 */
function namespacePrefix(name: string, value: unknown): string {
  if (
    typeof value !== 'string' ||
    /[\s*?[\]^\\]/.test(value) ||
    (value !== '' && !value.endsWith(':'))
  ) {
    throw new EventrailError(
      'invalid-option',
      `${name} must be empty or end with ":", without whitespace or Redis glob characters (* ? [ ] ^ \\), e.g. "billing:".`,
    );
  }
  return value;
}

/** Reads `channels` and `announce`. @throws {@link EventrailError} `invalid-option` */
function channelModes(
  channels: ChannelMode | undefined,
  announce: readonly ChannelMode[] | undefined,
): { channels: ChannelMode; publishModes: readonly ChannelMode[] } {
  const mode = channels ?? 'pattern';
  if (!MODES.includes(mode)) {
    throw new EventrailError('invalid-option', "channels must be 'pattern' or 'sharded'.");
  }
  const publishModes = announce ?? [mode];
  if (
    !Array.isArray(publishModes) ||
    publishModes.length === 0 ||
    !publishModes.every((m) => MODES.includes(m)) ||
    new Set(publishModes).size !== publishModes.length
  ) {
    throw new EventrailError(
      'invalid-option',
      "announce must list 'pattern', 'sharded' or both, each once (e.g. ['pattern', 'sharded'] during a migration).",
    );
  }
  return { channels: mode, publishModes };
}

/** Which one of `url`, `cluster` or both clients was given. @throws {@link EventrailError} */
function topologyOf(options: RedisBrokerOptions): Topology {
  const { url, cluster, publisher, subscriber } = options;
  if (cluster !== undefined) {
    if (url !== undefined || publisher || subscriber) {
      throw new EventrailError(
        'invalid-option',
        'Give createRedisBroker one of `url`, `cluster` or clients.',
      );
    }
    return { kind: 'cluster', source: cluster };
  }
  if (url !== undefined) {
    if (publisher || subscriber) {
      throw new EventrailError(
        'invalid-option',
        'Give createRedisBroker either `url` or clients, not both.',
      );
    }
    return { kind: 'url', url };
  }
  if (publisher && subscriber) return { kind: 'given', publisher, subscriber };
  throw new EventrailError(
    'invalid-option',
    'createRedisBroker needs `url` (e.g. "redis://127.0.0.1:6379") or both `publisher` and `subscriber` clients.',
  );
}

/**
 * The settings of `options`.
 * @throws {@link EventrailError} `invalid-option` naming the option at fault.
 */
export function redisSettings(options: RedisBrokerOptions): RedisSettings {
  if (options === null || typeof options !== 'object') {
    throw new EventrailError(
      'invalid-option',
      'createRedisBroker needs an options object, e.g. { url: "redis://127.0.0.1:6379" }.',
    );
  }
  if (options.url !== undefined && typeof options.url !== 'string') {
    throw new EventrailError('invalid-option', 'url must be a string such as "redis://host:6379".');
  }
  const publishTimeoutMs = wholeNumber(
    'publishTimeoutMs',
    options.publishTimeoutMs,
    DEFAULT_PUBLISH_TIMEOUT_MS,
    1,
  );
  const limits = historyLimits(options);
  const prefix = namespacePrefix('prefix', options.prefix ?? '');
  const modes = channelModes(
    options.channels ?? (options.cluster ? 'sharded' : undefined),
    options.announce,
  );
  if (options.cluster && (modes.channels !== 'sharded' || modes.publishModes.includes('pattern'))) {
    throw new EventrailError(
      'invalid-option',
      "On a Redis Cluster the channels are 'sharded' (classic Pub/Sub is broadcast to every node).",
    );
  }
  const shards = modes.channels === 'sharded' || modes.publishModes.includes('sharded');
  const historyKeyPrefix = namespacePrefix(
    'historyKeyPrefix',
    options.historyKeyPrefix ?? `${prefix}eventrail:history:`,
  );
  const code = historyCodeMode(options.historyCode);
  if (shards && /[{}]/.test(prefix + historyKeyPrefix)) {
    throw new EventrailError(
      'invalid-option',
      'In the sharded mode prefix and historyKeyPrefix cannot hold { or }: the hash tag of a scope must be its own.',
    );
  }
  const reminderMs = wholeNumber(
    'outageReminderMs',
    options.outageReminderMs,
    DEFAULT_OUTAGE_REMINDER_MS,
  );
  return {
    topology: topologyOf(options),
    publishTimeoutMs,
    limits,
    prefix,
    ...modes,
    shards,
    history: options.history !== false,
    historyKeyPrefix,
    code,
    probeIntervalMs: options.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS,
    reminderMs,
    onError: (error) => options.onError?.(error),
    logger: options.logger,
  };
}
