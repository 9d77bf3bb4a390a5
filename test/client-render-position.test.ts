/**
 * `eventrail/client` opens from the page's render position (issue 26), in Node with a stand-in
 * EventSource: the first request carries it, nothing is refreshed when the stream opens at it, and
 * a tab that joins a shared stream already past its position is handed what it missed (or resyncs
 * once). The proof in a browser is test/e2e-render-position.test.ts.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { connect, POSITION_META, type RefreshRoot } from 'eventrail/client';
import { CATCH_UP_RECORD, type HubPost, SharedHub } from '../src/client/shared-hub.js';
import type { StreamHandlers } from '../src/client/stream.js';
import { tabReceiver } from '../src/client/tab.js';
import type { HubMessage } from '../src/client/wire.js';
import { config, Source, StandIn } from './helpers/stand-in-source.js';

const hello = (source: StandIn, id: string) =>
  source.emit('eventrail.connected', '{"connectionId":"conn1"}', id);

/** A hub whose first tab `t1` rendered at `since`; what it posts, per tab (undefined: all). */
function hub(since = '') {
  const posted: Array<[HubMessage, string | undefined]> = [];
  const post: HubPost = (message, tab) => posted.push([message, tab]);
  const shared = new SharedHub(Source, post);
  shared.join('t1', ['app.a'], config, since);
  const source = StandIn.last as StandIn;
  source.emit('open');
  const to = (tab: string) =>
    posted.filter(([m, t]) => t === tab && (m.t === 'event' || m.t === 'resync')).map(([m]) => m);
  return { shared, source, posted, to };
}

describe('a shared stream and render positions', () => {
  test('the first tab opens the stream from its render position', () => {
    const { source } = hub('r1');
    assert.equal(source.url, 'https://app.test/events?lastEventId=r1');
  });

  test('a tab rendered before the stream’s last events is handed those after its position, alone', () => {
    const { shared, source, to } = hub('r1');
    hello(source, 'r1');
    source.emit('app.a', '1', 'r2');
    source.emit('app.a', '2', 'r3');
    shared.join('t2', ['app.a'], config, 'r2');
    assert.deepEqual(to('t2'), [
      { t: 'event', name: 'app.a', data: '2', id: 'r3', skip: undefined },
    ]);
    // One rendered at the stream's start gets both; one rendered at its last event, nothing.
    shared.join('t3', ['app.a'], config, 'r1');
    assert.deepEqual(
      to('t3').map((m) => (m.t === 'event' ? m.id : m.t)),
      ['r2', 'r3'],
    );
    shared.join('t4', ['app.a'], config, 'r3');
    assert.deepEqual(to('t4'), []);
    assert.deepEqual(to('t1'), [], 'the tabs already there get nothing again');
  });

  test('a resync the stream passed on is handed on too', () => {
    const { shared, source, to } = hub();
    hello(source, 'r1');
    source.emit('eventrail.resync', '{}', 'r5');
    shared.join('t2', ['app.a'], config, 'r1');
    assert.deepEqual(to('t2'), [{ t: 'resync', reason: 'resync', id: 'r5' }]);
  });

  test('a position the stream has not seen (too old, other scopes) resyncs the tab once', () => {
    const { shared, source, to } = hub();
    hello(source, 'r0');
    for (let i = 1; i <= CATCH_UP_RECORD + 1; i++) source.emit('app.a', String(i), `r${i}`);
    shared.join('t2', ['app.a'], config, 'r1');
    assert.deepEqual(to('t2'), [{ t: 'resync', reason: 'resync', id: `r${CATCH_UP_RECORD + 1}` }]);
    shared.join('t3', ['app.a'], config, 'elsewhere');
    assert.equal(to('t3').length, 1);
    shared.join('t4', ['app.a'], config, 'r2');
    assert.equal(to('t4').length, CATCH_UP_RECORD - 1, 'still in the record: replayed');
  });

  test('tabs that join before the stream starts are told when it does', () => {
    const { shared, source, to } = hub('r1');
    shared.join('t2', ['app.a'], config, 'r1');
    shared.join('t3', ['app.a'], config, 'r0');
    shared.join('t4', ['app.a'], config);
    hello(source, 'r1');
    assert.deepEqual(to('t2'), [], 'rendered where the stream starts');
    assert.deepEqual(to('t3'), [{ t: 'resync', reason: 'resync', id: 'r1' }], 'rendered elsewhere');
    assert.deepEqual(to('t4'), [], 'no render position');
  });

  test('over a channel every tab hears, a message for one tab reaches only that one', () => {
    const calls: string[] = [];
    const handlers: StreamHandlers = {
      event: (m) => calls.push(m.data),
      origin: () => {},
      resync: () => calls.push('resync'),
      state: () => {},
      tabs: () => {},
    };
    const receive = tabReceiver('t1', handlers);
    receive({ t: 'event', name: 'app.a', data: 'mine', id: '1', to: 't1' });
    receive({ t: 'event', name: 'app.a', data: 'theirs', id: '2', to: 't2' });
    receive({ t: 'resync', reason: 'resync', id: '3', to: 't2' });
    receive({ t: 'event', name: 'app.a', data: 'all', id: '4' });
    assert.deepEqual(calls, ['mine', 'all']);
  });
});

describe('connect() and the render position', () => {
  const root: RefreshRoot = Object.assign(new EventTarget(), { querySelectorAll: () => [] });
  afterEach(() => {
    delete (globalThis as { document?: unknown }).document;
  });

  test('opens from `since`, and refreshes nothing when the stream opens there', () => {
    let resyncs = 0;
    const client = connect({
      url: 'https://app.test/events',
      since: 'r7',
      root,
      EventSource: Source,
      onResync: () => {
        resyncs++;
        return false;
      },
    });
    const source = StandIn.last as StandIn;
    assert.equal(source.url, 'https://app.test/events?lastEventId=r7');
    source.emit('open');
    hello(source, 'r7');
    assert.equal(resyncs, 0);
    assert.equal(client.connectionId, 'conn1');
    client.close();
  });

  test(`reads <meta name="${POSITION_META}"> by default; since: false ignores it`, () => {
    (globalThis as { document?: unknown }).document = {
      querySelector: (selector: string) =>
        selector === `meta[name="${POSITION_META}"]` ? { getAttribute: () => 'r9' } : null,
    };
    const client = connect({ url: 'https://app.test/events', root, EventSource: Source });
    assert.equal((StandIn.last as StandIn).url, 'https://app.test/events?lastEventId=r9');
    client.close();
    const without = connect({
      url: 'https://app.test/events',
      since: false,
      root,
      EventSource: Source,
    });
    assert.equal((StandIn.last as StandIn).url, 'https://app.test/events');
    without.close();
  });
});
