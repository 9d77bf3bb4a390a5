/**
 * A running fleet moves from one channel mode to the other, as the README tells: every process
 * announces in both modes first, then the servers switch what they subscribe, then the old mode's
 * announce goes. Instances and publishers are replaced one by one (a rolling deploy) while two
 * publishers number their events and clients drop and come back anywhere with their Last-Event-ID.
 * Every client must get every event exactly once, in order, and no resync: nothing is lost.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ChannelMode,
  createRedisBroker,
  type RedisBrokerOptions,
} from '../src/brokers/redis.js';
import { createPublisher, type Publisher } from '../src/index.js';
import type { Broker } from '../src/types.js';
import { queryResolver, queryRouter, type RunningApp, startApp } from './helpers/apps.js';
import { seededRandom } from './helpers/random.js';
import { redisSkipReason } from './helpers/redis.js';
import { redisPerFile } from './helpers/redis-brokers.js';
import { allConnected, caughtUp, phase, startClient, tally } from './helpers/seq-clients.js';
import { sleep } from './helpers/sse.js';

const getRedis = redisPerFile();
const CLIENTS = 6;
/** Between two replacements of the rolling deploy. */
const STEP_MS = 250;

type Stage = Pick<RedisBrokerOptions, 'channels' | 'announce'>;

/** The stages of a migration from `from` to `to`, the first one where the fleet starts. */
function migration(from: ChannelMode, to: ChannelMode): Stage[] {
  return [
    { channels: from, announce: [from] },
    { channels: from, announce: [from, to] },
    { channels: to, announce: [from, to] },
    { channels: to, announce: [to] },
  ];
}

describe('channel mode migration', { skip: redisSkipReason() }, () => {
  const runs: Array<[ChannelMode, ChannelMode, number]> = [
    ['pattern', 'sharded', 1],
    ['sharded', 'pattern', 2],
  ];
  for (const [from, to, scope] of runs) {
    it(`a fleet moving from ${from} to ${to} channels loses no event and resyncs no client`, async () => {
      const redis = await getRedis();
      const brokers = new Set<Broker>();
      const broker = (stage: Stage): Broker => {
        const made = createRedisBroker({ url: redis.url, ...stage, probeIntervalMs: 0 });
        brokers.add(made);
        return made;
      };
      const retire = async (old: Broker): Promise<void> => {
        await old.close();
        brokers.delete(old);
      };
      const stages = migration(from, to);
      const start = stages[0] as Stage;
      const apps: RunningApp[] = [];
      const urls: string[] = [];
      const startServer = async (stage: Stage): Promise<RunningApp> => {
        const app = await startApp('node:http', {
          broker: broker(stage),
          resolver: queryResolver,
          router: queryRouter,
          eventNamePrefix: 'app',
          retryMs: 100,
          drainJitterMs: 100,
        });
        apps.push(app);
        urls.push(app.url);
        return app;
      };
      const servers = [await startServer(start), await startServer(start)];
      const publishers: Array<{ broker: Broker; publisher: Publisher }> = [0, 1].map(() => {
        const made = broker(start);
        return { broker: made, publisher: createPublisher({ broker: made }) };
      });

      const random = seededRandom(scope);
      const clients = Array.from({ length: CLIENTS }, () =>
        startClient(urls, random, Number.POSITIVE_INFINITY, scope),
      );
      await allConnected(clients);
      const acked: Array<{ p: number; seq: number }> = [];
      let publishing = true;
      const loops = publishers.map(async (slot, p) => {
        for (let seq = 0; publishing; seq++) {
          await slot.publisher.publishEvent(`gym:${scope}:t${p}`, {
            eventType: 'seq',
            data: { p, seq },
          });
          acked.push({ p, seq });
          await sleep(10);
        }
      });
      // Each step lasts STEP_MS and until ten more events went through: a busy machine makes it
      // longer, never empty.
      const step = async (): Promise<void> => {
        const at = acked.length;
        await phase(STEP_MS, () => acked.length >= at + 10, 'ten events published in the step');
      };
      try {
        // The rolling deploys: publishers first, then the servers, one at a time.
        for (const stage of stages.slice(1)) {
          for (const slot of publishers) {
            const old = slot.broker;
            slot.broker = broker(stage);
            slot.publisher = createPublisher({ broker: slot.broker });
            await step();
            await retire(old);
          }
          for (const [i, old] of servers.entries()) {
            servers[i] = await startServer(stage);
            urls.splice(urls.indexOf(old.url), 1);
            await old.stop();
            await step();
          }
        }
        publishing = false;
        await Promise.all(loops);
        // Every client catches up: it has every event or the oracle says what it lacks.
        await caughtUp(clients, acked, 15_000);
      } finally {
        publishing = false;
        await Promise.allSettled(loops);
        for (const client of clients) await client.stop();
        for (const app of apps) await app.stop();
        for (const made of brokers) await made.close();
      }
      const result = tally(clients, acked);
      const reconnects = clients.reduce((sum, c) => sum + c.reconnects, 0);
      console.log(
        `# ${from} -> ${to}: ${JSON.stringify({ events: acked.length, reconnects, ...result })}`,
      );
      assert.ok(acked.length > 100, `enough events were published (${acked.length})`);
      assert.ok(reconnects > CLIENTS * 3, `clients reconnected often (${reconnects})`);
      assert.deepEqual(result, { resyncs: 0, lost: 0, duplicated: 0, disordered: 0 });
      for (const client of clients)
        assert.ok(
          client.log.some((e) => e.kind === 'event'),
          'every client received events',
        );
    });
  }
});
