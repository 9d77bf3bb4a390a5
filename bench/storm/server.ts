/**
 * One eventrail instance of the storm scenario: the Redis broker with its default history, and on
 * SIGTERM a graceful shutdown as a deploy does it: the listener closes (the balancer's next pick
 * is the other instance) and `sse.close()` drains the streams over `drainWindowMs` (its default, 10 s).
 */
import { createSseServer } from 'eventrail';
import { createRedisBroker } from 'eventrail/redis';
import { redisUrl, serve } from '../systems/common.js';
import { benchStreams, eventsServer } from '../systems/eventrail-setup.js';

// What the broker reports (a subscriber judged deaf and replaced, say) goes to stderr, which the
// bench shows with BENCH_DEBUG.
const broker = createRedisBroker({
  url: redisUrl(),
  onError: (err) => console.error(`${new Date().toISOString()} broker: ${err.message}`),
});
const sse = createSseServer({
  broker,
  ...benchStreams(),
  // OPENINGS: maxOpeningsPerSecond (0, the default: off).
  maxOpeningsPerSecond: Number(process.env.OPENINGS ?? 0),
});

const server = eventsServer(sse);
process.once('SIGTERM', () => {
  server.close();
  void sse.close().then(async () => {
    await broker.close();
    process.exit(0);
  });
});
serve(server);
