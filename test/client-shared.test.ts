/**
 * The shared stream of `eventrail/client` (issue 21) in Node: the side that holds the stream
 * (SharedHub) and a tab's end of it, with a stand-in EventSource. The proof in a browser is
 * test/e2e-shared.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connect, type RefreshRoot } from 'eventrail/client';
import { type HubPost, SharedHub } from '../src/client/shared-hub.js';
import type { StreamHandlers } from '../src/client/stream.js';
import { tabReceiver } from '../src/client/tab.js';
import type { HubMessage } from '../src/client/wire.js';
import { config, Source, StandIn } from './helpers/stand-in-source.js';

/** The stream a test plays the server of. */

function hubWithTabs(...tabs: string[]) {
  const posted: Array<[HubMessage, string | undefined]> = [];
  const post: HubPost = (message, tab) => posted.push([message, tab]);
  const hub = new SharedHub(Source, post, { lastEventId: '7-1', resumed: true });
  for (const tab of tabs) hub.join(tab, ['app.a', 'app.b'], config);
  const source = StandIn.last as StandIn;
  return {
    hub,
    posted,
    source,
    events: () => posted.map(([m]) => m).filter((m) => m.t === 'event'),
  };
}

describe('SharedHub', () => {
  test('opens one stream, resuming from the id it was given, for every tab that joins', () => {
    const { hub, posted, source } = hubWithTabs('t1', 't2');
    assert.equal(source.url, 'https://app.test/events?lastEventId=7-1');
    assert.equal(hub.size, 2);
    assert.deepEqual(posted.at(-1), [{ t: 'tabs', count: 2, joined: 't2' }, undefined]);
    source.emit('open');
    source.emit('eventrail.connected', '{"connectionId":"conn1"}', '8-1');
    assert.deepEqual(posted.at(-1), [{ t: 'connected', id: 'conn1', at: '8-1' }, undefined]);
    // A tab joining later learns where the stream stands, alone.
    hub.join('t3', ['app.c'], config);
    assert.deepEqual(posted.slice(-3), [
      [{ t: 'state', state: 'open' }, 't3'],
      [{ t: 'connected', id: 'conn1', at: '8-1' }, 't3'],
      [{ t: 'tabs', count: 3, joined: 't3' }, undefined],
    ]);
    hub.leave('t2');
    assert.deepEqual(posted.at(-1), [{ t: 'tabs', count: 2 }, undefined]);
    hub.close();
    assert.equal(source.readyState, 2);
  });

  test('hands an event to every tab but the one its marker names', () => {
    const { source, events } = hubWithTabs('t1', 't2');
    source.emit('open');
    source.emit('eventrail.origin', '{"tab":"t1","event":"app.a"}', '9-1');
    source.emit('app.a', '{"id":1}', '9-1');
    source.emit('app.a', '{"id":2}', '9-2');
    // A marker whose event no tab listens to never applies to the next one.
    source.emit('eventrail.origin', '{"tab":"t2","event":"app.z"}', '9-3');
    source.emit('app.b', '{}', '9-4');
    source.emit('eventrail.origin', '{"tab":"t2\\n","event":"app.b"}', '9-5');
    source.emit('app.b', '{}', '9-5');
    assert.deepEqual(
      events().map((m) => m.t === 'event' && [m.name, m.id, m.skip]),
      [
        ['app.a', '9-1', 't1'],
        ['app.a', '9-2', undefined],
        ['app.b', '9-4', undefined],
        ['app.b', '9-5', undefined],
      ],
    );
  });

  test('passes on resyncs, and a stream lost without ids as a reconnect', () => {
    const { posted, source } = hubWithTabs('t1');
    source.emit('eventrail.resync', '{}', '10-1');
    assert.deepEqual(posted.at(-1), [{ t: 'resync', reason: 'resync', id: '10-1' }, undefined]);
    const fresh = new SharedHub(Source, (m) => posted.push([m, undefined]), {
      lastEventId: '',
      resumed: true,
    });
    fresh.join('t1', [], config);
    StandIn.last?.emit('open');
    assert.deepEqual(posted.at(-1), [{ t: 'resync', reason: 'reconnect', id: '' }, undefined]);
  });
});

describe("a tab's end", () => {
  function receiver(tab: string) {
    const seen: string[] = [];
    const calls: unknown[][] = [];
    const handlers = new Proxy({} as StreamHandlers, {
      get:
        (_, name) =>
        (...args: unknown[]) =>
          calls.push([name, ...args]),
    });
    return { receive: tabReceiver(tab, handlers, (id) => seen.push(id)), seen, calls };
  }

  test('names the tab in its origin and skips only what it caused, keeping the ids', () => {
    const { receive, seen, calls } = receiver('t1');
    receive({ t: 'connected', id: 'conn1', at: '1-0' });
    receive({ t: 'event', name: 'app.a', data: '{}', id: '1-1', skip: 't1' });
    receive({ t: 'event', name: 'app.a', data: '{}', id: '1-2', skip: 't2' });
    receive({ t: 'connected', id: undefined });
    assert.deepEqual(calls, [
      ['origin', 'conn1.t1'],
      ['event', { name: 'app.a', data: '{}', lastEventId: '1-2' }],
      ['origin', undefined],
    ]);
    assert.deepEqual(
      seen,
      ['1-0', '1-1', '1-2'],
      'the group resumes from the start and past skips',
    );
  });

  test('connect({ share: true }) without SharedWorker or Web Locks holds its own stream', () => {
    // Node 24 has Web Locks (navigator.locks) and BroadcastChannel, where the client rightly
    // elects a leader instead: the test hides them to stand for a runtime without either.
    const navigator = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
    Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true });
    const root: RefreshRoot = Object.assign(new EventTarget(), {
      querySelectorAll: () => [],
    });
    const client = connect({
      url: 'https://app.test/events',
      share: true,
      root,
      EventSource: Source,
    });
    try {
      assert.equal(client.sharing, 'none');
      assert.equal(client.tabs, 1);
      const source = StandIn.last as StandIn;
      source.emit('open');
      source.emit('eventrail.connected', '{"connectionId":"conn9"}');
      assert.equal(client.connectionId, 'conn9', 'a tab alone is skipped by its connection id');
    } finally {
      client.close();
      if (navigator === undefined) Reflect.deleteProperty(globalThis, 'navigator');
      else Object.defineProperty(globalThis, 'navigator', navigator);
    }
  });
});
