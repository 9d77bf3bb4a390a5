/**
 * The replay answers a process keeps for a storm's later clients, on a clock the test moves: an
 * answer stays while it is reused (a loaded machine stretches a storm over many seconds), goes
 * once nobody has used it for a while or it is old, and a partial answer is worth something only
 * to the hub it was read for.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { KeptAnswers } from '../src/fanout/kept-answers.js';
import type { HistoryEntry } from '../src/types.js';
import { entries, hubAt } from './helpers/history-entries.js';

describe('KeptAnswers', () => {
  beforeEach(() => mock.timers.enable({ apis: ['Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  it('keeps a full page while it is reused, however long the storm lasts', () => {
    const kept = new KeptAnswers();
    kept.keep('s', 'k', '1000-0', 4, entries(1, 4), undefined);
    // Reused every 4 s for 40 s: each reuse starts the idle wait again.
    for (let s = 4; s <= 40; s += 4) {
      mock.timers.tick(4_000);
      assert.equal(kept.reuse('k', undefined)?.fresh, true, `reused at ${s} s`);
    }
  });

  it('drops an answer nobody used for 5 s, and any answer 60 s after its read', () => {
    const kept = new KeptAnswers();
    kept.keep('s', 'idle', '1000-0', 4, entries(1, 4), undefined);
    kept.keep('s', 'busy', '1000-4', 4, entries(5, 8), undefined);
    mock.timers.tick(4_000);
    assert.ok(kept.reuse('busy', undefined));
    mock.timers.tick(1_500);
    assert.equal(kept.reuse('idle', undefined), undefined, 'idle 5.5 s: dropped');
    for (let s = 0; s < 54_000; s += 3_000) {
      mock.timers.tick(3_000);
      assert.ok(kept.reuse('busy', undefined));
    }
    mock.timers.tick(1_000);
    assert.equal(kept.reuse('busy', undefined), undefined, '60.5 s after its read: dropped');
  });

  it('reuses a partial answer only for its hub, whole while the hub saw nothing newer', () => {
    const kept = new KeptAnswers();
    const hub = hubAt(6);
    kept.keep('s', 'k', '1000-0', 256, entries(1, 6), hub);
    assert.equal(kept.reuse('k', hubAt(6)), undefined, 'another hub');
    assert.equal(kept.reuse('k', undefined), undefined, 'no hub');
    assert.deepEqual(kept.reuse('k', hub), { fresh: true, answer: entries(1, 6) });
    hub.lastSeen = { ms: 1000, seq: 7 };
    assert.deepEqual(kept.reuse('k', hub), { fresh: false, answer: entries(1, 6), upTo: '1000-6' });
    // The partial answer's reuse keeps it too.
    mock.timers.tick(4_000);
    assert.ok(kept.reuse('k', hub));
    mock.timers.tick(4_000);
    assert.ok(kept.reuse('k', hub));
  });

  const big = (n: number, chars: number): HistoryEntry[] => [
    { id: `1000-${n}`, channel: 'gym:1:a', payload: 'x'.repeat(chars) },
  ];

  it("keeps 1 MiB of a scope's answers, dropping its least recently used first", () => {
    const kept = new KeptAnswers();
    kept.keep('s1', 'a', '1000-0', 1, big(1, 300_000), undefined);
    kept.keep('s1', 'b', '1000-1', 1, big(2, 300_000), undefined);
    kept.keep('s1', 'c', '1000-2', 1, big(3, 300_000), undefined);
    kept.keep('s2', 'other', '1000-0', 1, big(1, 300_000), undefined);
    assert.ok(kept.reuse('a', undefined), 'a used: b is now the least recently used of s1');
    kept.keep('s1', 'd', '1000-3', 1, big(4, 300_000), undefined);
    assert.equal(kept.reuse('b', undefined), undefined, 'b dropped');
    for (const key of ['a', 'c', 'd', 'other']) assert.ok(kept.reuse(key, undefined), key);
    kept.keep('s3', 'huge', '1000-0', 1, big(1, 1_100_000), undefined);
    assert.equal(kept.reuse('huge', undefined), undefined, 'more than a scope may keep');
  });

  it('keeps 8 MiB in all: a read that finds it full is not kept, until answers nobody uses go', () => {
    const kept = new KeptAnswers();
    // Eight scopes of 1,000,000 characters fit (8 MiB is 8,388,608); a ninth does not.
    for (let s = 1; s <= 9; s++)
      kept.keep(`s${s}`, `k${s}`, '1000-0', 1, big(s, 1_000_000), undefined);
    assert.equal(kept.reuse('k9', undefined), undefined, 'the ninth was not kept');
    // What is kept stays while it is used, whatever comes.
    mock.timers.tick(4_000);
    for (let s = 2; s <= 8; s++) assert.ok(kept.reuse(`k${s}`, undefined), `k${s} reused`);
    mock.timers.tick(1_500);
    kept.keep('s9', 'k9', '1000-0', 1, big(9, 1_000_000), undefined);
    assert.ok(kept.reuse('k9', undefined), 'kept: k1, unused for 5.5 s, made room');
    assert.equal(kept.reuse('k1', undefined), undefined);
    for (let s = 2; s <= 8; s++) assert.ok(kept.reuse(`k${s}`, undefined), `k${s} still kept`);
  });
});
