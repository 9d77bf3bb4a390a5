import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryBroker } from '../src/brokers/memory.js';
import { EventrailError } from '../src/errors.js';
import { buildRouteTable } from '../src/fanout/routes.js';
import { createSseServer } from '../src/index.js';
import {
  assertEventType,
  belongsTo,
  eventName,
  parseChannel,
  parsePattern,
} from '../src/wire/naming.js';
import { decodePayload } from '../src/wire/payload.js';

const code = (c: string) => (e: unknown) => e instanceof EventrailError && e.code === c;

describe('channel names', () => {
  it('accepts {scope}:{scope_id}:{topic}', () => {
    assert.deepEqual(parseChannel('gym:1:students'), {
      scope: 'gym',
      scopeId: '1',
      topic: 'students',
    });
    assert.deepEqual(parseChannel('tenant:9f-x:pay_ments.v2'), {
      scope: 'tenant',
      scopeId: '9f-x',
      topic: 'pay_ments.v2',
    });
  });

  it('refuses global, partial, empty and hostile channels', () => {
    const bad = [
      'students',
      'gym:1',
      'gym:1:students:x',
      ':1:students',
      'gym::students',
      'gym:1:',
      'gym:*:students',
      'gym:1:stu*',
      'gym:1?:a',
      'gym:[12]:a',
      'gym:1:a^',
      'gym:1\\:a',
      'gym:1:a b',
      'gym:1:a\n',
      'gym:1:\t',
      'gym:1:a\u0000',
      `gym:${'1'.repeat(129)}:a`,
      '',
      'gym:1:\u00a0',
    ];
    for (const channel of bad)
      assert.throws(() => parseChannel(channel), code('invalid-channel'), JSON.stringify(channel));
    assert.throws(() => parseChannel(42), code('invalid-channel'));
  });
});

describe('well-formed Unicode', () => {
  // Redis stores names as UTF-8: node-redis writes U+FFFD for a lone surrogate, so a part holding
  // one would share its bytes with the part holding U+FFFD there.
  const lone = ['acme\uD800', '\uDFFF', 'a\uDC00b', '\uDE00\uD83D', 'x\uD83D'];

  it('refuses lone surrogates in every part of channels and routes', () => {
    for (const part of lone) {
      for (const channel of [`org:${part}:t`, `${part}:1:t`, `org:1:${part}`])
        assert.throws(
          () => parseChannel(channel),
          code('invalid-channel'),
          JSON.stringify(channel),
        );
      for (const pattern of [`org:${part}:*`, `${part}:1:*`, `org:1:${part}`])
        assert.throws(
          () => parsePattern(pattern),
          code('invalid-pattern'),
          JSON.stringify(pattern),
        );
      assert.throws(() => buildRouteTable([`org:${part}:*`]), code('invalid-pattern'));
    }
  });

  it('keeps surrogate pairs and U+FFFD, which have bytes of their own', () => {
    assert.equal(parseChannel('org:acme\uFFFD:t').scopeId, 'acme\uFFFD');
    assert.equal(parseChannel('org:\uD83D\uDE00:t').scopeId, '😀');
    assert.equal(parsePattern('org:acme\uFFFD:*').scopeId, 'acme\uFFFD');
  });
});

describe('belongsTo', () => {
  it('is exactly {scope}:{id}:{topic} with a valid topic', () => {
    assert.ok(belongsTo('gym:1', 'gym:1:students'));
    for (const channel of [
      'gym:10:students',
      'gym:1',
      'gym:1:',
      'gym:1:a:b',
      'gym:1:a*',
      'gym:1:\uD800',
      'gym:1x:a',
      'gym:2:a',
      'xgym:1:a',
    ])
      assert.ok(!belongsTo('gym:1', channel), channel);
  });
});

describe('route patterns', () => {
  it('accepts literal scope and id with a literal or * topic', () => {
    assert.equal(parsePattern('gym:1:*').topic, '*');
    assert.equal(parsePattern('gym:1:students').topic, 'students');
  });

  it('refuses global and widening patterns', () => {
    for (const pattern of [
      '*',
      'gym:*',
      'gym:*:*',
      'gym:1*',
      'gym:1*:*',
      '*:1:*',
      'gym:1:stu*',
      'gym:1:?',
      'gym:[1]:*',
      'gym:1:**',
      'gym: 1:*',
    ]) {
      assert.throws(() => parsePattern(pattern), code('invalid-pattern'), pattern);
    }
  });

  it('groups overlapping routes by scope so one event reaches a client once', () => {
    const { table, patterns } = buildRouteTable([
      'gym:1:students',
      'gym:1:*',
      'gym:1:plans',
      'org:2:plans',
      'org:2:plans',
    ]);
    assert.equal(table.get('gym:1'), null);
    assert.deepEqual([...(table.get('org:2') ?? [])], ['plans']);
    assert.deepEqual(patterns, ['gym:1:students', 'gym:1:*', 'gym:1:plans', 'org:2:plans']);
    assert.throws(() => buildRouteTable('gym:1:*'), code('invalid-pattern'));
    assert.throws(() => buildRouteTable(['gym:1:*', 'gym:1*']), code('invalid-pattern'));
  });
});

describe('event names', () => {
  it('prefixes once', () => {
    assert.equal(eventName('app', 'students.changed'), 'app.students.changed');
    assert.equal(eventName('app', 'app.students.changed'), 'app.students.changed');
    assert.equal(eventName('app', 'apple.changed'), 'app.apple.changed');
    assert.equal(eventName('', 'students.changed'), 'students.changed');
  });

  it('refuses CR, LF, NUL, empty and over-long types', () => {
    for (const bad of ['', 'a\nb', 'a\rb', 'a\0b', 'x'.repeat(257), 5, null]) {
      assert.throws(() => assertEventType(bad), code('invalid-event-type'));
    }
    assert.doesNotThrow(() => assertEventType('étudiants.changés'));
  });

  it("refuses eventrail's own names, as a type and as a prefix", () => {
    for (const reserved of [
      'eventrail.connected',
      'eventrail.resync',
      'eventrail.x',
      'eventrail',
    ]) {
      assert.throws(() => assertEventType(reserved), code('invalid-event-type'));
    }
    assert.doesNotThrow(() => assertEventType('eventrails.changed'));
    assert.doesNotThrow(() => assertEventType('app.eventrail.resync')); // prefixed: harmless
  });

  it('a payload naming a reserved event (another program) is delivered as message, raw', () => {
    const raw = '{"event_type":"eventrail.resync","data":{}}';
    assert.deepEqual(decodePayload({ channel: 'gym:1:x', payload: raw }, ''), {
      name: 'message',
      data: raw,
    });
    assert.throws(
      () =>
        createSseServer({
          broker: createMemoryBroker(),
          resolver: () => ({ userId: 1, scopeId: 1 }),
          router: () => ['gym:1:*'],
          eventNamePrefix: 'eventrail',
        }),
      code('invalid-event-type'),
    );
  });
});
