/**
 * The reference-counted subscription registry against a broker whose subscriptions complete when
 * the test says (no I/O: the state machine alone, as node-redis tests its PubSub).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Subscriptions } from '../src/fanout/subscriptions.js';
import type { Broker, BrokerSubscription } from '../src/types.js';
import { sleep, waitFor } from './helpers/sse.js';

/** A broker whose subscribe resolves only when `complete()` is called. */
function slowBroker() {
  const log: string[] = [];
  const pending: Array<() => void> = [];
  const broker: Broker = {
    subscribe(pattern) {
      log.push(`subscribe ${pattern}`);
      return new Promise<BrokerSubscription>((resolve) => {
        pending.push(() =>
          resolve({
            async unsubscribe() {
              log.push(`unsubscribe ${pattern}`);
            },
          }),
        );
      });
    },
    async publish() {},
    async close() {},
  };
  const complete = (): void => {
    for (const done of pending.splice(0)) done();
  };
  return { broker, log, complete };
}

function registry(broker: Broker, idleTimeoutMs: number) {
  const stopped: string[] = [];
  const subscriptions = new Subscriptions(broker, idleTimeoutMs, {
    onMessage: () => {},
    onGap: () => {},
    onHubStarted: () => {},
    onHubStopped: (key) => stopped.push(key),
    onError: (err) => {
      throw err;
    },
  });
  return { subscriptions, stopped };
}

describe('Subscriptions (unit)', () => {
  it('one subscription per scope, however many acquire it at once; the last release unsubscribes', async () => {
    const { broker, log, complete } = slowBroker();
    const { subscriptions, stopped } = registry(broker, 0);
    const both = Promise.all([subscriptions.acquire('gym:1'), subscriptions.acquire('gym:1')]);
    complete();
    const [a, b] = await both;
    assert.equal(a, b, 'the same hub');
    assert.deepEqual(log, ['subscribe gym:1:*']);
    assert.equal(subscriptions.refs('gym:1'), 2);
    subscriptions.release(a);
    assert.equal(subscriptions.size, 1, 'still held');
    subscriptions.release(b);
    await waitFor(() => stopped.length === 1, 'the hub stops');
    assert.deepEqual(log, ['subscribe gym:1:*', 'unsubscribe gym:1:*']);
    assert.equal(subscriptions.size, 0);
  });

  it('a hub released for good idles for idleTimeoutMs; acquiring it meanwhile keeps it', async () => {
    const { broker, log, complete } = slowBroker();
    const { subscriptions } = registry(broker, 50);
    const start = subscriptions.acquire('gym:1');
    complete();
    const hub = await start;
    subscriptions.release(hub);
    assert.equal(await subscriptions.acquire('gym:1'), hub, 'taken again before the timeout');
    await sleep(80);
    assert.equal(subscriptions.size, 1, 'held: no timer ran');
    subscriptions.release(hub);
    await waitFor(() => subscriptions.size === 0, 'stopped after the idle timeout');
    assert.deepEqual(log, ['subscribe gym:1:*', 'unsubscribe gym:1:*']);
  });

  it('a waiter who gives up (signal) gets the reason; the subscription, once made, idles out', async () => {
    const { broker, log, complete } = slowBroker();
    const { subscriptions, stopped } = registry(broker, 0);
    const gate = new AbortController();
    const waiting = subscriptions.acquireAll(['gym:1'], gate.signal);
    gate.abort(new Error('openTimeoutMs'));
    await assert.rejects(waiting, /openTimeoutMs/);
    complete(); // the broker comes back
    await waitFor(() => stopped.length === 1, 'the orphan subscription stops');
    assert.deepEqual(log, ['subscribe gym:1:*', 'unsubscribe gym:1:*']);
    assert.equal(subscriptions.refs('gym:1'), 0);
  });

  it('acquireAll takes every scope or none: a scope that fails hands back the ones taken', async () => {
    const { broker, log, complete } = slowBroker();
    const refusing: Broker = {
      ...broker,
      subscribe: (pattern, onMessage, onGap) =>
        pattern === 'gym:2:*'
          ? Promise.reject(new Error('gym:2 refused'))
          : broker.subscribe(pattern, onMessage, onGap),
    };
    const { subscriptions, stopped } = registry(refusing, 0);
    const all = subscriptions.acquireAll(['gym:1', 'gym:2'], new AbortController().signal);
    complete();
    await assert.rejects(all, /gym:2 refused/);
    await waitFor(() => stopped.length === 1, 'gym:1 handed back and stopped');
    assert.deepEqual(log, ['subscribe gym:1:*', 'unsubscribe gym:1:*']);
    assert.equal(subscriptions.refs('gym:1'), 0);
  });

  it('closeAll does not wait for a subscription being made; it is dropped when made', async () => {
    const { broker, log, complete } = slowBroker();
    const { subscriptions } = registry(broker, 60_000);
    const live = subscriptions.acquire('gym:1');
    complete();
    await live;
    const waiting = subscriptions.acquire('gym:2');
    await subscriptions.closeAll(); // returns although gym:2 is still being subscribed
    assert.deepEqual(log, ['subscribe gym:1:*', 'subscribe gym:2:*', 'unsubscribe gym:1:*']);
    complete();
    await assert.rejects(waiting, { code: 'server-closed' });
    assert.deepEqual(log.slice(-1), ['unsubscribe gym:2:*']);
    assert.equal(subscriptions.size, 0);
  });
});
