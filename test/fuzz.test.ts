/**
 * Fuzz, seeded and bounded (phases in helpers/fuzz-phases.ts):
 *
 * - the request path: random methods, headers (huge, duplicate, odd bytes), queries and
 *   Last-Event-IDs, through fetch and through raw sockets, on node:http and on the fetch handler;
 * - the publish path: channel, event type, data and the event itself of any shape and size;
 * - the broker path: arbitrary bytes PUBLISHed on our channels by another Redis client.
 *
 * Nothing may crash or escape as an unhandled rejection, no body shows internal error text, every
 * status is the documented one, every refused publish is a typed EventrailError, and clients
 * connected throughout receive a canary event after every phase. Replay with FUZZ_SEED=<seed>;
 * FUZZ_ITERATIONS changes the length of each phase.
 */
import { after, before, describe, it } from 'node:test';
import { createMemoryBroker } from '../src/brokers/memory.js';
import { createRedisBroker } from '../src/brokers/redis.js';
import type { Broker } from '../src/types.js';
import { brokerPhase, fetchPhase, publishPhase, socketPhase } from './helpers/fuzz-phases.js';
import { healthy, newFuzz, recordEscapes, setUp } from './helpers/fuzz-rig.js';
import { envInteger, envSeed, seededRandom } from './helpers/random.js';
import { type RedisProcess, redisSkipReason, startRedis } from './helpers/redis.js';

// First of all: whatever escapes eventrail's promises and callbacks is recorded from here on.
const escaped = recordEscapes();
const SEED = envSeed('FUZZ_SEED');
const N = envInteger('FUZZ_ITERATIONS', 300, 1);
console.log(`fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED})`);

describe('fuzz: request and publish paths (memory broker)', () => {
  const fuzz = newFuzz(SEED, N, escaped);
  const broker = createMemoryBroker();
  before(() => setUp(fuzz, [broker]));
  after(async () => {
    console.log(`memory: ${JSON.stringify(Object.fromEntries([...fuzz.counts].sort()))}`);
    for (const app of fuzz.apps) await app.stop();
    await broker.close();
  });

  it(`answers ${N} fetch requests with the right status and nothing internal`, async () => {
    await fetchPhase(fuzz, seededRandom(SEED));
    await healthy(fuzz, 'fetch requests');
  });
  it(`answers ${N} raw-socket requests, malformed ones included`, async () => {
    await socketPhase(fuzz, seededRandom(SEED + 1));
    await healthy(fuzz, 'raw requests');
  });
  it(`refuses every bad one of ${N} publishes of any shape`, async () => {
    await publishPhase(fuzz, seededRandom(SEED + 2));
    await healthy(fuzz, 'publishes');
  });
});

describe('fuzz: broker path (two instances on Redis)', { skip: redisSkipReason() }, () => {
  const fuzz = newFuzz(SEED, N, escaped);
  let redis: RedisProcess | undefined;
  const brokers: Broker[] = [];
  before(async () => {
    redis = await startRedis();
    brokers.push(createRedisBroker({ url: redis.url }), createRedisBroker({ url: redis.url }));
    await setUp(fuzz, brokers);
  });
  after(async () => {
    console.log(`redis: ${JSON.stringify(Object.fromEntries([...fuzz.counts].sort()))}`);
    for (const app of fuzz.apps) await app.stop();
    for (const broker of brokers) await broker.close();
    await redis?.stop();
  });

  it(`delivers on through ${N} arbitrary payloads PUBLISHed on our channels`, async () => {
    const port = redis?.port ?? 0;
    await brokerPhase(fuzz, seededRandom(SEED + 3), port, (phase) => healthy(fuzz, phase));
    await healthy(fuzz, 'broker payloads');
  });
  it(`refuses every bad one of ${N} publishes before Redis`, async () => {
    await publishPhase(fuzz, seededRandom(SEED + 4));
    await healthy(fuzz, 'publishes through Redis');
  });
});
