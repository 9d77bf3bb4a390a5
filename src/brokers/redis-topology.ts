/** The one place the Redis broker's topology is chosen: its connection, one of three. */
import { connectCluster } from './redis-cluster.js';
import type { ConnectionEvents, RedisConnection } from './redis-connection.js';
import { givenClients } from './redis-given.js';
import type { RedisSettings } from './redis-settings.js';
import { connectUrl } from './redis-url.js';

/** The connection of `settings.topology`, reporting to `events`. */
export function openConnection(settings: RedisSettings, events: ConnectionEvents): RedisConnection {
  const { topology } = settings;
  switch (topology.kind) {
    case 'url':
      return connectUrl(topology.url, settings.channels, settings.shards, events);
    case 'given':
      return givenClients(topology.publisher, topology.subscriber, settings, events);
    case 'cluster':
      return connectCluster(topology.source, events, settings.publishTimeoutMs);
  }
}
