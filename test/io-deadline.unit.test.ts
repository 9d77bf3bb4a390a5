/**
 * ioDeadline against a real socket: data that reached the kernel before the deadline is read
 * before the deadline expires, even when the event loop was blocked past it (a plain timer runs
 * first: the timers phase comes before the poll phase).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { ioDeadline } from '../src/util/io-deadline.js';

/** A connected pair of loopback sockets. */
async function socketPair(): Promise<{ near: net.Socket; far: net.Socket; close: () => void }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const near = net.connect(port, '127.0.0.1');
  await once(near, 'connect');
  const [far] = await accepted;
  return {
    near,
    far,
    close: () => {
      near.destroy();
      far.destroy();
      server.close();
    },
  };
}

/** Blocks the event loop for `ms` (a storm's replays, compressed). */
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {}
}

describe('ioDeadline', () => {
  it('reads what arrived in time before expiring, though the loop was blocked past it', async () => {
    const { near, far, close } = await socketPair();
    try {
      for (let round = 0; round < 5; round++) {
        const order: string[] = [];
        const settled = new Promise<void>((resolve) => {
          near.once('data', () => {
            order.push('data');
            if (order.length === 2) resolve();
          });
          ioDeadline(5, () => {
            order.push('expired');
            if (order.length === 2) resolve();
          });
        });
        // The answer reaches this process's kernel buffer at once (loopback), in time; then the
        // loop is busy well past the deadline before it can poll.
        far.write('pong');
        block(50);
        await settled;
        assert.deepEqual(order, ['data', 'expired'], `round ${round}`);
      }
    } finally {
      close();
    }
  });

  it('expires when nothing comes, and not at all once cancelled', async () => {
    let expired = 0;
    await new Promise<void>((resolve) => ioDeadline(1, resolve));
    const cancel = ioDeadline(1, () => expired++);
    cancel();
    // Cancelled after its timer ran but before its immediate: still nothing. Both timers are due
    // when the loop comes round, and run in the order they were set.
    const late = ioDeadline(1, () => expired++);
    const cancelled = new Promise<void>((resolve) =>
      setTimeout(() => {
        late();
        resolve();
      }, 1),
    );
    block(5);
    await cancelled;
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(expired, 0);
  });
});
