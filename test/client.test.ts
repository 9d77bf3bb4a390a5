/**
 * The browser client (`eventrail/client`) in Node, with a scripted EventSource and a tiny fake DOM.
 * The real proof is test/e2e-browser*.test.ts in Chromium, Firefox and WebKit; this pins down the
 * logic around it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as protocol from 'eventrail';
import {
  backoffDelay,
  CONNECTED_EVENT,
  type ConnectOptions,
  connect,
  LAST_EVENT_ID_PARAM,
  ORIGIN_HEADER,
  REFRESH_EVENT,
  RESYNC_EVENT,
  type RefreshDetail,
  type RefreshRoot,
  type RefreshTarget,
} from 'eventrail/client';

/** An EventSource whose server the test plays. */
class ScriptedSource extends EventTarget {
  static instances: ScriptedSource[] = [];
  readyState = 0;
  constructor(
    readonly url: string,
    readonly init?: EventSourceInit,
  ) {
    super();
    ScriptedSource.instances.push(this);
  }
  open(): void {
    this.readyState = 1;
    this.dispatchEvent(new Event('open'));
  }
  send(name: string, data: string, lastEventId = ''): void {
    this.dispatchEvent(new MessageEvent(name, { data, lastEventId }));
  }
  /** A network error: the browser retries by itself (CONNECTING) or gives up (CLOSED). */
  fail(gaveUp: boolean): void {
    this.readyState = gaveUp ? 2 : 0;
    this.dispatchEvent(new Event('error'));
  }
  close(): void {
    this.readyState = 2;
  }
}

class FakeElement extends EventTarget implements RefreshTarget {
  readonly refreshes: RefreshDetail[] = [];
  constructor(private readonly declared: string | null) {
    super();
    this.addEventListener(REFRESH_EVENT, (event) => {
      this.refreshes.push((event as CustomEvent<RefreshDetail>).detail);
    });
  }
  getAttribute(): string | null {
    return this.declared;
  }
}

class FakeRoot extends EventTarget implements RefreshRoot {
  constructor(readonly elements: FakeElement[]) {
    super();
  }
  querySelectorAll(): ArrayLike<RefreshTarget> {
    return this.elements.filter((e) => e.getAttribute() !== null);
  }
}

function setup(options: Partial<ConnectOptions> = {}) {
  ScriptedSource.instances = [];
  const students = new FakeElement('app.students.changed');
  const both = new FakeElement('app.plans.changed  app.students.changed');
  const plans = new FakeElement('app.plans.changed');
  const root = new FakeRoot([students, both, plans, new FakeElement(null)]);
  const client = connect({
    url: 'http://example.test/events',
    root,
    EventSource: ScriptedSource as unknown as ConnectOptions['EventSource'],
    backoff: { initialMs: 5, maxMs: 5 },
    ...options,
  });
  const source = (): ScriptedSource => {
    const last = ScriptedSource.instances.at(-1);
    assert.ok(last, 'an EventSource was created');
    return last;
  };
  return { client, root, students, both, plans, source };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('eventrail/client', () => {
  test('its wire names are the server’s', () => {
    assert.equal(CONNECTED_EVENT, protocol.CONNECTED_EVENT);
    assert.equal(RESYNC_EVENT, protocol.RESYNC_EVENT);
    assert.equal(ORIGIN_HEADER, protocol.ORIGIN_HEADER);
    assert.equal(LAST_EVENT_ID_PARAM, protocol.LAST_EVENT_ID_PARAM);
  });

  test('backoff grows exponentially, is capped and jittered', () => {
    const opts = { initialMs: 100, maxMs: 1000, jitter: 0.5 };
    assert.deepEqual(
      [0, 1, 2, 3, 4, 10].map((n) => backoffDelay(n, opts, () => 0)),
      [100, 200, 400, 800, 1000, 1000],
    );
    assert.equal(
      backoffDelay(3, opts, () => 1),
      400,
    );
    for (let i = 0; i < 100; i++) {
      const delay = backoffDelay(2, opts);
      assert.ok(delay >= 200 && delay <= 400, `${delay} within [200, 400]`);
    }
  });

  test('an event refreshes exactly the elements that declare it', () => {
    const { client, students, both, plans, source } = setup();
    const seen: string[] = [];
    client.on('app.students.changed', (m) => seen.push(m.data));
    source().open();
    source().send('app.students.changed', '{"id":1}');
    assert.deepEqual(students.refreshes, [
      { reason: 'event', eventName: 'app.students.changed', data: '{"id":1}' },
    ]);
    assert.equal(both.refreshes.length, 1);
    assert.equal(plans.refreshes.length, 0);
    assert.deepEqual(seen, ['{"id":1}']);
    client.close();
  });

  test('the connection id goes out on htmx requests, and nowhere once closed', () => {
    const { client, root, source } = setup();
    const request = () => {
      const detail = { headers: {} as Record<string, string>, path: '/students' };
      root.dispatchEvent(new CustomEvent('htmx:configRequest', { detail }));
      return detail.headers;
    };
    source().open();
    assert.deepEqual(request(), {}, 'no id before the server named the stream');
    source().send(CONNECTED_EVENT, '{"connectionId":"abc_123-XY"}');
    assert.equal(client.connectionId, 'abc_123-XY');
    assert.deepEqual(request(), { [ORIGIN_HEADER]: 'abc_123-XY' });
    assert.deepEqual(client.originHeaders(), { [ORIGIN_HEADER]: 'abc_123-XY' });
    source().send(CONNECTED_EVENT, '{"connectionId":"bad id\\n"}');
    assert.equal(client.connectionId, undefined, 'a malformed id is not used');
    client.close();
    assert.deepEqual(request(), {});
  });

  test('resync refreshes every declared element; onResync can take over', () => {
    const { client, students, both, plans, source } = setup();
    source().open();
    source().send(RESYNC_EVENT, '{}');
    for (const element of [students, both, plans]) {
      assert.deepEqual(element.refreshes, [{ reason: 'resync' }]);
    }
    client.close();
    const reasons: string[] = [];
    const custom = setup({
      onResync(reason) {
        reasons.push(reason);
        return false;
      },
    });
    custom.source().open();
    custom.source().send(RESYNC_EVENT, '{}');
    assert.deepEqual(reasons, ['resync']);
    assert.equal(custom.students.refreshes.length, 0);
    custom.client.close();
  });

  test('when the browser gives up, the client reconnects by itself and refreshes everything', async () => {
    const states: string[] = [];
    const { client, students, source } = setup({ onStateChange: (s) => states.push(s) });
    const first = source();
    first.open();
    first.fail(false); // the browser retries on its own: no new EventSource
    assert.equal(ScriptedSource.instances.length, 1);
    first.open();
    assert.deepEqual(students.refreshes, [{ reason: 'reconnect' }], 'no ids: nothing to replay');
    first.fail(true); // e.g. a 502 from the proxy: CLOSED for good
    await sleep(30);
    assert.equal(ScriptedSource.instances.length, 2, 'a new EventSource after the backoff');
    source().open();
    assert.equal(students.refreshes.length, 2);
    assert.deepEqual(states, ['open', 'reconnecting', 'open', 'reconnecting', 'open']);
    client.close();
    assert.equal(client.state, 'closed');
  });

  test('with event ids, a reconnect resumes from the last id instead of refreshing', async () => {
    const { client, students, source } = setup();
    source().open();
    source().send('app.students.changed', '{}', 'gym-1-42');
    source().fail(true);
    await sleep(30);
    assert.equal(new URL(source().url).searchParams.get('lastEventId'), 'gym-1-42');
    source().open();
    assert.deepEqual(
      students.refreshes.map((r) => r.reason),
      ['event'],
    );
    client.close();
  });

  test('close() stops a pending reconnect', async () => {
    const { client, source } = setup();
    source().fail(true);
    client.close();
    await sleep(30);
    assert.equal(ScriptedSource.instances.length, 1);
  });
});
