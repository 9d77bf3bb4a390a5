/**
 * A publisher of its own owns its broker: `close()` lets the publishes in flight settle, closes
 * the broker (so a worker's process can exit: test/docs-run.test.ts runs the README's worker on
 * Redis), and refuses later publishes. A server's publisher has no `close()`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPublisher, createSseServer, isEventrailError } from 'eventrail';
import { createMemoryBroker } from 'eventrail/memory';

describe('createPublisher(...).close()', () => {
  it('closes its broker after the publishes in flight, then refuses publishes', async () => {
    const memory = createMemoryBroker({ history: false });
    const order: string[] = [];
    let release = (): void => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The memory broker, its publish held until released, its close recorded.
    const broker = {
      ...memory,
      async publish(channel: string, payload: string) {
        await held;
        await memory.publish(channel, payload);
        order.push('published');
      },
      async close() {
        order.push('broker closed');
        await memory.close();
      },
    };
    const publisher = createPublisher({ broker });
    const inFlight = publisher.publishType('gym:1:plans', 'plans.changed');
    const closed = publisher.close();
    assert.equal(publisher.close(), closed, 'close() twice is the same close');
    await assert.rejects(publisher.publishType('gym:1:plans', 'plans.changed'), (error) =>
      isEventrailError(error, 'broker-closed'),
    );
    release();
    await inFlight;
    await closed;
    assert.deepEqual(order, ['published', 'broker closed']);
    assert.equal(memory.state?.(), 'closed');
  });

  it('is not on a server’s publisher, whose broker outlives it', async () => {
    const broker = createMemoryBroker();
    const sse = createSseServer({
      broker,
      resolver: () => ({ userId: 1, scopeId: 1 }),
      router: () => ['gym:1:*'],
    });
    assert.equal('close' in sse.publisher, false);
    await sse.publisher.publishType('gym:1:plans', 'plans.changed');
    await sse.close();
    assert.equal(broker.state?.(), 'ready');
    await broker.close();
  });
});
