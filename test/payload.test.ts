import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventrailError } from '../src/errors.js';
import { withCarrier } from '../src/tracing.js';
import { decodePayload, encodeEvent } from '../src/wire/payload.js';

const msg = (payload: string) => ({ channel: 'gym:1:students', payload });

describe('payload contract', () => {
  it('writes the Go eventrail JSON shape', () => {
    const payload = encodeEvent({ eventType: 'students.changed', data: { id: 123 } }).payload;
    assert.deepEqual(JSON.parse(payload), { event_type: 'students.changed', data: { id: 123 } });
    assert.deepEqual(JSON.parse(encodeEvent({ eventType: 'x.y' }).payload), {
      event_type: 'x.y',
      data: {},
    });
    assert.deepEqual(JSON.parse(encodeEvent({ eventType: 'x.y', origin: 'abc_-1' }).payload), {
      event_type: 'x.y',
      data: {},
      origin: 'abc_-1',
    });
  });

  it('refuses data without a JSON form and bad origins', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const data of [circular, 10n, () => 1, Symbol('x')]) {
      assert.throws(
        () => encodeEvent({ eventType: 'x.y', data }).payload,
        (e) => e instanceof EventrailError && e.code === 'invalid-data',
      );
    }
    assert.throws(
      () => encodeEvent({ eventType: 'x.y', origin: 'a b' }).payload,
      (e) => e instanceof EventrailError && e.code === 'invalid-data',
    );
  });

  it('decodes event_type and data, prefixing once', () => {
    assert.deepEqual(
      decodePayload(msg('{"event_type":"students.changed","data":{"id":1}}'), 'app'),
      {
        name: 'app.students.changed',
        data: '{"id":1}',
        origin: undefined,
      },
    );
    assert.equal(
      decodePayload(msg('{"event_type":"app.students.changed"}'), 'app').name,
      'app.students.changed',
    );
  });

  it('turns missing data into {} and keeps null', () => {
    assert.equal(decodePayload(msg('{"event_type":"a.b"}'), '').data, '{}');
    assert.equal(decodePayload(msg('{"event_type":"a.b","data":null}'), '').data, 'null');
  });

  it('delivers anything else as message with the raw payload', () => {
    for (const raw of [
      'hello',
      '',
      '{"data":1}',
      '[1,2]',
      '{"event_type":5}',
      '{"event_type":"a\\nb"}',
      '{not json',
      'null',
      '42',
    ]) {
      assert.deepEqual(decodePayload(msg(raw), 'app'), { name: 'message', data: raw }, raw);
    }
  });

  it('reads payloads written by the Go eventrail (no origin, extra fields)', () => {
    const event = decodePayload(
      msg('{"event_type":"plans.created","data":{"id":7},"extra":true}'),
      'app',
    );
    assert.equal(event.name, 'app.plans.created');
    assert.equal(event.data, '{"id":7}');
  });
});

describe('trace context in the payload', () => {
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

  it('is added as the last field, read back, and never part of data', () => {
    const payload = withCarrier(encodeEvent({ eventType: 'a.b', data: { x: 1 } }).payload, {
      traceparent,
      tracestate: 'k=v',
    });
    assert.deepEqual(JSON.parse(payload), {
      event_type: 'a.b',
      data: { x: 1 },
      trace_context: { traceparent, tracestate: 'k=v' },
    });
    const event = decodePayload(msg(payload), '');
    assert.equal(event.data, '{"x":1}');
    assert.deepEqual(event.traceContext, { traceparent, tracestate: 'k=v' });
  });

  it('an empty or invalid carrier leaves the payload as it is', () => {
    const payload = encodeEvent({ eventType: 'a.b' }).payload;
    assert.equal(withCarrier(payload, undefined), payload);
    assert.equal(withCarrier(payload, {}), payload);
    assert.equal(withCarrier(payload, { 'Bad Key': 'x' }), payload);
  });

  it('anything but a small object of strings is ignored on the way in, the event still delivered', () => {
    const many = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'v']));
    for (const bad of [
      '"x"',
      '5',
      'null',
      '[]',
      '{"traceparent":5}',
      '{"traceparent":{"a":1}}',
      `{"traceparent":"${'x'.repeat(2000)}"}`,
      JSON.stringify(many),
      '{"Not-Lower":"x"}',
      '{}',
    ]) {
      const event = decodePayload(msg(`{"event_type":"a.b","trace_context":${bad}}`), '');
      assert.equal(event.name, 'a.b', bad);
      assert.equal(event.traceContext, undefined, bad);
    }
  });
});
