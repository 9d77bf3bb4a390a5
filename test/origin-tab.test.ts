/**
 * Origins that name a tab of a shared connection (`{connectionId}.{tabId}`, issue 21): the format
 * is validated where origins enter (header, publish, broker payload), the connection it names gets
 * the event marked for that tab, every other connection gets it unmarked, another scope nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryBroker } from '../src/brokers/memory.js';
import { Frame } from '../src/fanout/frame.js';
import { decodePayload, ORIGIN_EVENT, readOrigin } from '../src/index.js';
import type { Broker } from '../src/types.js';
import { encodeEvent } from '../src/wire/payload.js';
import { isOrigin } from '../src/wire/protocol.js';
import { queryResolver, queryRouter, type RunningApp, startApp } from './helpers/apps.js';
import { openRaw, sleep, waitFor } from './helpers/sse.js';

describe('tab origins', () => {
  it('accepts a connection id with an optional tab id, nothing else', () => {
    for (const ok of ['abc', 'abc.t1', 'A_-9.x', `${'c'.repeat(128)}.${'t'.repeat(64)}`]) {
      assert.ok(isOrigin(ok), ok);
      assert.equal(readOrigin({ 'x-eventrail-origin': ok }), ok);
    }
    const bad = ['', '.t', 'c.', 'c.t.u', 'c.t\r\n', 'c\n.t', 'c.t u', `c.${'t'.repeat(65)}`];
    for (const value of [...bad, `${'c'.repeat(129)}.t`, 'c.t\0']) {
      assert.equal(isOrigin(value), false, JSON.stringify(value));
      assert.equal(readOrigin({ 'x-eventrail-origin': value }), undefined);
      assert.throws(
        () => encodeEvent({ eventType: 'x.y', origin: value }).payload,
        /origin must be a connection id/,
      );
    }
  });

  it('travels in the payload as an extra field, and a bad one read from a broker is dropped', () => {
    const payload = encodeEvent({ eventType: 'students.changed', origin: 'conn1.tab1' }).payload;
    assert.deepEqual(JSON.parse(payload), {
      event_type: 'students.changed',
      data: {},
      origin: 'conn1.tab1',
    });
    const read = (origin: string) =>
      decodePayload(
        { channel: 'gym:1:students', payload: JSON.stringify({ event_type: 'a.b', origin }) },
        '',
      ).origin;
    assert.equal(read('conn1.tab1'), 'conn1.tab1');
    assert.equal(read('conn1.tab1\r\nevent: x'), undefined);
  });

  it('marks the frame for the tab under the same id and merges it apart from the event', () => {
    const position = { ms: 5, seq: 1 };
    const plain = Frame.of({ name: 'app.a', data: '{}', origin: 'conn1' }, position, 'g');
    assert.equal(plain.forTab(), undefined);
    const frame = Frame.of({ name: 'app.a', data: '{}', origin: 'conn1.tab1' }, position, 'g');
    const own = frame.forTab();
    assert.ok(own);
    assert.equal(frame.forTab(), own, 'built once');
    const text = own.chunk.toString();
    assert.match(
      text,
      /^id: [^\n]+\nevent: eventrail\.origin\ndata: \{"tab":"tab1","event":"app\.a"\}\n\nevent: app\.a\ndata: \{\}\n\n$/,
    );
    assert.equal(text.split('id: ').length, 2, 'one id line for both');
    assert.equal(own.body().toString(), text.slice(text.indexOf('\n') + 1));
    assert.equal(frame.key, 'app.a');
    assert.notEqual(own.key, frame.key, 'coalesce never merges an event all tabs need into it');
  });

  describe('delivery', () => {
    let broker: Broker;
    let app: RunningApp;

    before(async () => {
      broker = createMemoryBroker();
      app = await startApp('node:http', {
        broker,
        resolver: queryResolver,
        router: queryRouter,
        eventNamePrefix: 'app',
      });
    });
    after(async () => {
      await app.stop();
      await broker.close();
    });

    it('gives the named connection the event marked for its tab, the others the event alone', async () => {
      const shared = await openRaw(`${app.url}/events?scope=1`);
      const other = await openRaw(`${app.url}/events?scope=1`);
      const foreign = await openRaw(`${app.url}/events?scope=2`);
      const streams = [shared, other, foreign];
      await waitFor(() => streams.every((s) => s.events.length === 1), 'connected events');
      const id = JSON.parse(shared.events[0]?.data ?? '{}').connectionId as string;
      await app.sse.publisher.publishEvent('gym:1:students', {
        eventType: 'students.changed',
        data: { id: 7 },
        origin: `${id}.tab3`,
      });
      await waitFor(() => shared.events.length === 3 && other.events.length === 2, 'delivery');
      const [marker, event] = shared.events.slice(1);
      assert.equal(marker?.event, ORIGIN_EVENT);
      assert.equal(marker?.data, '{"tab":"tab3","event":"app.students.changed"}');
      assert.equal(event?.event, 'app.students.changed');
      assert.equal(event?.data, '{"id":7}');
      // One id line before both: a browser keeps it for the event too (eventsource-parser reports
      // it on the block that carries it only).
      assert.ok(marker?.id, 'the marker carries the id');
      assert.equal(event?.id, undefined);
      assert.deepEqual(
        other.events.slice(1).map((e) => [e.event, e.data, e.id]),
        [['app.students.changed', '{"id":7}', marker?.id]],
        'another connection of the scope: the event alone, no tab',
      );
      assert.ok(!other.text.includes('tab3'), 'the tab id goes to its own connection only');
      // A plain connection id still skips the connection (only its id moves on).
      await app.sse.publisher.publishEvent('gym:1:students', {
        eventType: 'students.changed',
        origin: id,
      });
      await waitFor(() => other.events.length === 3, 'the second event');
      await sleep(100);
      assert.equal(shared.events.length, 3, 'a plain origin skips the whole connection');
      assert.equal(foreign.events.length, 1, 'another scope receives nothing');
      assert.ok(!foreign.text.includes('tab3'));
      for (const s of streams) s.abort();
    });
  });
});
