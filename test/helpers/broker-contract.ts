/**
 * The behaviour every {@link Broker} must have, as one suite run against each implementation.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventrailError } from '../../src/errors.js';
import type { Broker, BrokerMessage } from '../../src/types.js';

/** What a contract test gets from the factory. */
export interface BrokerUnderTest {
  readonly broker: Broker;
  /** Publishes like another program would (for Redis: a separate raw connection). */
  readonly publishRaw?: (channel: string, payload: string) => Promise<void>;
  /** Releases everything the factory created (the broker included). */
  readonly cleanup: () => Promise<void>;
}

/** Passed to the factory: the broker's `onError` must go there. */
export interface BrokerFactoryOptions {
  readonly onError: (error: Error) => void;
}

export type BrokerFactory = (options: BrokerFactoryOptions) => Promise<BrokerUnderTest>;

/** How long a message that must arrive is waited for (a bound on a hang, not on latency). */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** How long "nothing more arrives" is watched. */
export const QUIET_MS = 200;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Resolves like `promise`, or rejects with a clear message after `ms`: a test that would hang
 * (or end with node:test's "event loop has already resolved") fails saying what hung instead.
 */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A handler that records what it receives and lets a test wait for it. */
export interface Collector {
  readonly handler: (message: BrokerMessage) => void;
  readonly messages: BrokerMessage[];
  /** Resolves once `count` messages arrived in total; rejects after `timeoutMs` saying why. */
  waitFor(count: number, timeoutMs?: number): Promise<BrokerMessage[]>;
}

export function collector(name = 'collector'): Collector {
  const messages: BrokerMessage[] = [];
  const waiters = new Set<() => void>();
  return {
    messages,
    handler(message) {
      messages.push(message);
      for (const wake of waiters) wake();
    },
    async waitFor(count, timeoutMs = DELIVERY_TIMEOUT_MS) {
      if (messages.length >= count) return messages;
      await new Promise<void>((resolve, reject) => {
        const wake = (): void => {
          if (messages.length < count) return;
          clearTimeout(timer);
          waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          const seen = messages
            .slice(-3)
            .map((m) => `${m.channel} ${JSON.stringify(m.payload.slice(0, 40))}`);
          reject(
            new Error(
              `${name}: expected ${count} message(s) within ${timeoutMs} ms, got ${messages.length}` +
                (seen.length > 0 ? ` (last: ${seen.join('; ')})` : ''),
            ),
          );
        }, timeoutMs);
        waiters.add(wake);
      });
      return messages;
    },
  };
}

/** Asserts that `promise` rejects with an {@link EventrailError} of `code`. */
export async function rejectsWithCode(
  promise: Promise<unknown>,
  code: EventrailError['code'],
  what: string,
): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(
      err instanceof EventrailError,
      `${what}: expected an EventrailError, got ${String(err)}`,
    );
    assert.equal(err.code, code, `${what}: wrong error code (${err.message})`);
    return true;
  });
}

function describePayload(payload: string): string {
  return payload.length > 60 ? `${payload.length} chars` : JSON.stringify(payload);
}

/**
 * Registers the broker contract suite. Every test gets a fresh broker from `makeBroker` and
 * calls its `cleanup` whatever happens.
 */
export function brokerContract(
  name: string,
  makeBroker: BrokerFactory,
  opts: {
    skip?: string | undefined;
    /** Whether another program can publish to this broker (Redis: yes; in-memory: no). */
    outsidePublisher?: boolean;
  } = {},
): void {
  describe(`Broker contract: ${name}`, { skip: opts.skip }, () => {
    async function withBroker(
      body: (subject: BrokerUnderTest, errors: Error[]) => Promise<void>,
    ): Promise<void> {
      const errors: Error[] = [];
      const subject = await makeBroker({ onError: (error) => errors.push(error) });
      try {
        await body(subject, errors);
      } finally {
        await withDeadline(subject.cleanup(), 5_000, `${name}: cleanup (broker.close())`);
      }
    }

    it('delivers a message to a matching subscription once, payload byte-identical', async () => {
      await withBroker(async ({ broker }) => {
        const payloads = [
          'plain',
          '',
          'unicode: héllo wörld ✓ 日本語 🎉 \u{1F600} \u00a0 \u2028 \u0000 end',
          'line1\r\nline2\nline3\rline4\r\n\r\n',
          '{"event_type":"students.changed","data":{"id":1}}',
          `${'x'.repeat(50 * 1024)}é🎉${'y'.repeat(50 * 1024)}`,
        ];
        const got = collector('gym:1:*');
        await broker.subscribe('gym:1:*', got.handler);
        for (const payload of payloads) await broker.publish('gym:1:students', payload);
        await got.waitFor(payloads.length);
        await sleep(QUIET_MS);
        assert.equal(got.messages.length, payloads.length, 'each message exactly once');
        payloads.forEach((payload, i) => {
          const message = got.messages[i];
          assert.ok(message, `message ${i} missing`);
          assert.equal(message.channel, 'gym:1:students');
          assert.ok(
            message.payload === payload,
            `payload ${i} (${describePayload(payload)}) changed: got ${describePayload(message.payload)}`,
          );
        });
      });
    });

    it('delivers to the matching pattern only (gym:1:* is not gym:2, gym:10 or gym:1x)', async () => {
      await withBroker(async ({ broker }) => {
        const gym1 = collector('gym:1:*');
        const gym10 = collector('gym:10:*');
        await broker.subscribe('gym:1:*', gym1.handler);
        await broker.subscribe('gym:10:*', gym10.handler);
        for (const channel of [
          'gym:2:students',
          'gym:10:students',
          'gym:1x:a',
          'gym:11:students',
          'gym:1',
          'xgym:1:students',
          'GYM:1:students',
        ]) {
          await broker.publish(channel, `not for gym 1: ${channel}`);
        }
        await broker.publish('gym:1:a:b', 'nested topic');
        // Delivery is ordered: once the last one is in, anything wrongly routed before it is too.
        await broker.publish('gym:1:students', 'sentinel');
        await gym1.waitFor(2);
        await sleep(QUIET_MS);
        assert.deepEqual(gym1.messages, [
          { channel: 'gym:1:a:b', payload: 'nested topic' },
          { channel: 'gym:1:students', payload: 'sentinel' },
        ]);
        assert.deepEqual(gym10.messages, [
          { channel: 'gym:10:students', payload: 'not for gym 1: gym:10:students' },
        ]);
      });
    });

    it('serves two subscriptions on one pattern independently; unsubscribe is idempotent', async () => {
      await withBroker(async ({ broker }) => {
        const a = collector('A');
        const b = collector('B');
        const witness = collector('witness gym:1:s*');
        const subA = await broker.subscribe('gym:1:*', a.handler);
        const subB = await broker.subscribe('gym:1:*', b.handler);
        await broker.subscribe('gym:1:s*', witness.handler);

        await broker.publish('gym:1:students', 'one');
        await Promise.all([a.waitFor(1), b.waitFor(1), witness.waitFor(1)]);

        await subA.unsubscribe();
        await broker.publish('gym:1:students', 'two');
        await Promise.all([b.waitFor(2), witness.waitFor(2)]);

        await subA.unsubscribe(); // twice: harmless
        await broker.publish('gym:1:students', 'three');
        await Promise.all([b.waitFor(3), witness.waitFor(3)]);

        await subB.unsubscribe();
        await subB.unsubscribe();
        await broker.publish('gym:1:students', 'four');
        await witness.waitFor(4);
        await sleep(QUIET_MS);

        const payloads = (c: typeof a): string[] => c.messages.map((m) => m.payload);
        assert.deepEqual(payloads(a), ['one'], 'A stops after its unsubscribe');
        assert.deepEqual(
          payloads(b),
          ['one', 'two', 'three'],
          'B unaffected by A, stops after its own',
        );
        assert.deepEqual(payloads(witness), ['one', 'two', 'three', 'four']);
      });
    });

    it('treats the same function subscribed twice as two subscriptions', async () => {
      await withBroker(async ({ broker }) => {
        const got = collector('same function twice');
        const first = await broker.subscribe('gym:1:*', got.handler);
        await broker.subscribe('gym:1:*', got.handler);
        await broker.publish('gym:1:students', 'twice');
        await got.waitFor(2);
        await first.unsubscribe();
        await broker.publish('gym:1:students', 'once');
        await got.waitFor(3);
        await sleep(QUIET_MS);
        assert.deepEqual(
          got.messages.map((m) => m.payload),
          ['twice', 'twice', 'once'],
        );
      });
    });

    it('delivers nothing after the last unsubscribe', async () => {
      await withBroker(async ({ broker }) => {
        const got = collector('gym:1:*');
        const sub = await broker.subscribe('gym:1:*', got.handler);
        await broker.publish('gym:1:students', 'before');
        await got.waitFor(1);
        await sub.unsubscribe();
        await broker.publish('gym:1:students', 'after');
        await broker.publish('gym:1:teachers', 'after');
        await sleep(QUIET_MS);
        assert.deepEqual(got.messages, [{ channel: 'gym:1:students', payload: 'before' }]);
      });
    });

    it('keeps publish order: 500 messages fired back-to-back arrive in order', async () => {
      await withBroker(async ({ broker }) => {
        const got = collector('gym:1:*');
        await broker.subscribe('gym:1:*', got.handler);
        const sent: BrokerMessage[] = [];
        for (let i = 0; i < 500; i++) {
          sent.push({ channel: i % 3 === 0 ? 'gym:1:a' : 'gym:1:b', payload: String(i) });
        }
        await Promise.all(sent.map((m) => broker.publish(m.channel, m.payload)));
        await got.waitFor(500, 5_000);
        await sleep(QUIET_MS);
        assert.equal(got.messages.length, 500);
        const firstOutOfOrder = got.messages.findIndex((m, i) => m.payload !== String(i));
        assert.equal(firstOutOfOrder, -1, `message ${firstOutOfOrder} out of order`);
        assert.deepEqual(got.messages, sent);
      });
    });

    it('keeps delivering to other subscriptions when a handler throws (reported to onError)', async () => {
      await withBroker(async ({ broker }, errors) => {
        let calls = 0;
        await broker.subscribe('gym:1:*', () => {
          calls++;
          throw new Error(`handler boom ${calls}`);
        });
        const same = collector('same pattern, after the thrower');
        const other = collector('other pattern');
        await broker.subscribe('gym:1:*', same.handler);
        await broker.subscribe('gym:1:s*', other.handler);
        const uncaught: unknown[] = [];
        const onUncaught = (err: unknown): void => {
          uncaught.push(err);
        };
        process.on('uncaughtException', onUncaught);
        try {
          await broker.publish('gym:1:students', 'one');
          await broker.publish('gym:1:students', 'two');
          await broker.publish('gym:1:students', 'three');
          await Promise.all([same.waitFor(3), other.waitFor(3)]);
          await sleep(QUIET_MS);
        } finally {
          process.off('uncaughtException', onUncaught);
        }
        assert.deepEqual(uncaught, [], 'a handler error must not become an uncaught exception');
        assert.equal(calls, 3, 'the throwing handler is still called for every message');
        assert.deepEqual(
          same.messages.map((m) => m.payload),
          ['one', 'two', 'three'],
        );
        assert.deepEqual(
          other.messages.map((m) => m.payload),
          ['one', 'two', 'three'],
        );
        const reported = errors.map((e) => e.message).filter((m) => m.startsWith('handler boom'));
        assert.deepEqual(reported, ['handler boom 1', 'handler boom 2', 'handler boom 3']);
      });
    });

    it('rejects publish and subscribe with broker-closed after close(); close() twice is fine', async () => {
      await withBroker(async ({ broker }) => {
        const got = collector('gym:1:*');
        const sub = await broker.subscribe('gym:1:*', got.handler);
        await broker.publish('gym:1:students', 'open');
        await got.waitFor(1);
        await withDeadline(broker.close(), 5_000, 'close()');
        await withDeadline(broker.close(), 5_000, 'second close()');
        await withDeadline(
          Promise.all([broker.close(), broker.close()]),
          5_000,
          'concurrent close()',
        );
        await rejectsWithCode(
          broker.publish('gym:1:students', 'closed'),
          'broker-closed',
          'publish',
        );
        await rejectsWithCode(
          broker.subscribe('gym:1:*', got.handler),
          'broker-closed',
          'subscribe',
        );
        await sub.unsubscribe(); // after close: still safe
        await sleep(QUIET_MS);
        assert.equal(got.messages.length, 1);
      });
    });

    // Only where there is another program: an in-memory broker has no outside publisher.
    if (!opts.outsidePublisher) return;
    it('delivers a message published by another program', async () => {
      await withBroker(async ({ broker, publishRaw }) => {
        assert.ok(publishRaw, `${name}: the factory must give publishRaw`);
        const got = collector('gym:1:*');
        await broker.subscribe('gym:1:*', got.handler);
        const payloads = ['{"event_type":"students.changed","data":{}}', 'raw ✓ 🎉\r\nline', ''];
        for (const payload of payloads) await publishRaw('gym:1:students', payload);
        await publishRaw('gym:2:students', 'not for gym 1');
        await got.waitFor(payloads.length);
        await sleep(QUIET_MS);
        assert.deepEqual(
          got.messages,
          payloads.map((payload) => ({ channel: 'gym:1:students', payload })),
        );
      });
    });
  });
}
