import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatEventId,
  isNewMark,
  MAX_EVENT_ID_LENGTH,
  markAt,
  markedPositions,
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

  it('writes no id longer than the limit', () => {
    const many = Array.from({ length: 12 }, (_, i) => ({ ms: 1_732_800_000_000 + i, seq: 9999 }));
    assert.equal(formatEventId(tag, positionMarks(many)), undefined);
    const few = formatEventId(tag, positionMarks(many.slice(0, 2))) as string;
    assert.ok(few.length <= MAX_EVENT_ID_LENGTH);
  });

  it('parses Redis stream ids and writes them back', () => {
    assert.deepEqual(parseStreamId('1732800000000-7'), { ms: 1_732_800_000_000, seq: 7 });
    assert.equal(streamId({ ms: 1_732_800_000_000, seq: 7 }), '1732800000000-7');
    for (const bad of ['', '1-', '-1', '1-2-3', 'a-1', '99999999999999999-0']) {
      assert.equal(parseStreamId(bad), undefined, bad);
    }
  });
});
