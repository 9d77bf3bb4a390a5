import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { announcedId, withHistoryId } from '../src/wire/announce.js';
import {
  formatEventId,
  isNewMark,
  MAX_ID_SCOPES,
  markAt,
  markedPositions,
  maxEventIdLength,
  parseEventId,
  parseStreamId,
  positionMarks,
  scopeTag,
  setMark,
  streamId,
} from '../src/wire/event-ids.js';

describe('event ids and positions', () => {
  const tag = scopeTag(['gym:1', 'gym:2']);

  it('reads back the id of every scope position it writes', () => {
    const marks = positionMarks([
      { ms: 1_732_800_000_000, seq: 0 },
      { ms: 1_732_800_000_123, seq: 41 },
    ]);
    const id = formatEventId(tag, marks) as string;
    assert.match(id, /^[0-9a-z]+_[0-9a-z]+-0_[0-9a-z]+-[0-9a-z]+$/);
    assert.deepEqual(parseEventId(id, tag, 2), markedPositions(marks));
    // Issued for other scopes, or for another number of them: not ours.
    assert.equal(parseEventId(id, scopeTag(['gym:1']), 2), undefined);
    assert.equal(parseEventId(id, tag, 1), undefined);
  });

  it('orders positions by ms, then seq, per scope', () => {
    const marks = positionMarks([
      { ms: 1000, seq: 5 },
      { ms: 2000, seq: 0 },
    ]);
    assert.equal(isNewMark(marks, 0, { ms: 1000, seq: 5 }), false, 'the same position');
    assert.equal(isNewMark(marks, 0, { ms: 1000, seq: 4 }), false);
    assert.equal(isNewMark(marks, 0, { ms: 999, seq: 99 }), false);
    assert.equal(isNewMark(marks, 0, { ms: 1000, seq: 6 }), true);
    assert.equal(isNewMark(marks, 0, { ms: 1001, seq: 0 }), true);
    setMark(marks, 0, { ms: 1001, seq: 0 });
    assert.deepEqual(markAt(marks, 0), { ms: 1001, seq: 0 });
    // The other scope did not move.
    assert.deepEqual(markAt(marks, 1), { ms: 2000, seq: 0 });
    assert.equal(isNewMark(marks, 1, { ms: 1001, seq: 0 }), false);
  });

  it('writes an id for as many scopes as the routes allow, within the bound it reads back', () => {
    const tags = Array.from({ length: MAX_ID_SCOPES }, (_, i) => `gym:${i}`).sort();
    const wide = scopeTag(tags);
    // The widest positions there are: safe integers, an epoch of 32 bits, each scope its own.
    const widest = tags.map((_, i) => ({
      ms: Number.MAX_SAFE_INTEGER,
      seq: Number.MAX_SAFE_INTEGER,
      epoch: 0xffffffff - (i % 2),
    }));
    const id = formatEventId(wide, positionMarks(widest));
    assert.ok(id.length <= maxEventIdLength(MAX_ID_SCOPES), `${id.length} bytes`);
    assert.ok(maxEventIdLength(MAX_ID_SCOPES) < 4200, 'within 4 KiB or so');
    assert.match(id, /^[0-9a-z_-]+$/);
    assert.deepEqual(parseEventId(id, wide, MAX_ID_SCOPES), widest);
    // 64 scopes at the time of writing, one epoch: about 11 bytes a scope.
    const now = tags.slice(0, 64).map((_, i) => ({ ms: 1_732_800_000_000 + i, seq: i, epoch: 7 }));
    const typical = formatEventId(scopeTag(tags.slice(0, 64)), positionMarks(now));
    assert.ok(typical.length < 64 * 12 + 10, `${typical.length} bytes for 64 scopes`);
    assert.deepEqual(parseEventId(typical, scopeTag(tags.slice(0, 64)), 64), now);
    // One byte past the bound of its scope count: refused.
    assert.equal(
      parseEventId(`${typical}${'0'.repeat(2100)}`, scopeTag(tags.slice(0, 64)), 64),
      undefined,
    );
  });

  it("carries each scope's epoch, written only where it changes; ids without epochs still parse", () => {
    const positions = [
      { ms: 1000, seq: 1, epoch: 0xabcdef01 },
      { ms: 2000, seq: 2, epoch: 0xabcdef01 },
      { ms: 3000, seq: 3, epoch: 5 },
    ];
    const id = formatEventId(tag, positionMarks(positions));
    const [, first, second, third] = id.split('_');
    assert.equal(first?.split('-').length, 3, 'the first scope names its epoch');
    assert.equal(second?.split('-').length, 2, 'the same epoch as before: not repeated');
    assert.equal(third, `${(3000).toString(36)}-3-5`);
    assert.deepEqual(parseEventId(id, tag, 3), positions);
    const legacy = `${tag}_${(1000).toString(36)}-1_${(2000).toString(36)}-2`;
    assert.deepEqual(parseEventId(legacy, tag, 2), [
      { ms: 1000, seq: 1 },
      { ms: 2000, seq: 2 },
    ]);
    assert.equal(parseEventId(`${tag}_rs-1-zzzzzzz`, tag, 1), undefined, 'an epoch over 32 bits');
  });

  it('announces an id with its epoch, and reads an announce without one', () => {
    const payload = withHistoryId('{"event_type":"a.b"}', '1732800000000-3', '0a1b2c3d');
    assert.deepEqual(JSON.parse(payload), {
      event_type: 'a.b',
      eventrail_id: '1732800000000-3',
      eventrail_epoch: '0a1b2c3d',
    });
    assert.deepEqual(announcedId(payload), { id: '1732800000000-3', epoch: '0a1b2c3d' });
    assert.deepEqual(announcedId('{"a":1,"eventrail_id":"1-2"}'), { id: '1-2' });
    assert.equal(announcedId('{"a":1,"eventrail_id":"1-2","eventrail_epoch":"xyz"}'), undefined);
  });

  it('parses Redis stream ids and writes them back', () => {
    assert.deepEqual(parseStreamId('1732800000000-7'), { ms: 1_732_800_000_000, seq: 7 });
    assert.equal(streamId({ ms: 1_732_800_000_000, seq: 7 }), '1732800000000-7');
    for (const bad of ['', '1-', '-1', '1-2-3', 'a-1', '99999999999999999-0']) {
      assert.equal(parseStreamId(bad), undefined, bad);
    }
  });
});
