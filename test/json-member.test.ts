/** A payload's `data` reaches browsers as its publisher wrote it, as the Go eventrail passes it on. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rawMember } from '../src/wire/json-member.js';
import { decodePayload } from '../src/wire/payload.js';

const msg = (payload: string) => ({ channel: 'gym:1:students', payload });

describe('raw data', () => {
  it('keeps int64 ids, number spelling, escapes and spacing', () => {
    for (const data of [
      '{"id":9007199254740993}',
      '{"ratio":1.50,"e":1e3,"neg":-0}',
      '{"name":"Ana \\u0026 \\u003cJos\\u00e9\\u003e"}',
      '{ "ids" : [1, 2],\n  "at": null }',
      '"a string with } and ] and \\" inside"',
      '[{"data":1},[],{}]',
      'null',
      'true',
      '-12.5e-3',
    ]) {
      const payload = `{"event_type":"a.b", "data" :\t${data} , "origin":"x"}`;
      assert.equal(rawMember(payload, 'data'), data, payload);
      assert.equal(decodePayload(msg(payload), 'app').data, data, payload);
    }
  });

  it('reads the member JSON.parse reads: the last of repeated keys, escaped keys, top level only', () => {
    const cases: [string, string | undefined][] = [
      ['{"data":1,"data":{"y":2}}', '{"y":2}'],
      ['{"d\\u0061ta":[1]}', '[1]'],
      ['{"meta":{"data":5},"x":"\\"data\\":6"}', undefined],
      ['{}', undefined],
      ['{ }', undefined],
      ['{"data":{"s":"}\\\\","t":[{}]},"z":1}', '{"s":"}\\\\","t":[{}]}'],
    ];
    for (const [text, expected] of cases) {
      assert.equal(rawMember(text, 'data'), expected, text);
      const parsed = (JSON.parse(text) as { data?: unknown }).data;
      if (expected !== undefined) assert.deepEqual(JSON.parse(expected), parsed, text);
    }
  });

  it('is what JSON.stringify writes for what our publisher wrote', () => {
    const values: unknown[] = [
      { id: 1, tags: ['a', 'b'] },
      'x\ny',
      0,
      [],
      { nested: { '}': '{' } },
    ];
    for (const data of values) {
      const payload = JSON.stringify({ event_type: 'a.b', data, origin: 'o' });
      assert.equal(rawMember(payload, 'data'), JSON.stringify(data));
    }
  });

  it('gives up on text that is not a whole object', () => {
    for (const text of ['{"data":', '{"data":1', '{"data" 1}', '{"data":"open}', '{"data":[1,2}']) {
      assert.equal(rawMember(text, 'data'), undefined, text);
    }
  });
});
