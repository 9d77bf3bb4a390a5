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
    kept.keep('k', '1000-0', 4, entries(1, 4), undefined);
    // Reused every 4 s for 40 s: each reuse starts the idle wait again.
    for (let s = 4; s <= 40; s += 4) {
      mock.timers.tick(4_000);
      assert.equal(kept.reuse('k', undefined)?.fresh, true, `reused at ${s} s`);
    }
  });

  it('drops an answer nobody used for 5 s, and any answer 60 s after its read', () => {
    const kept = new KeptAnswers();
    kept.keep('idle', '1000-0', 4, entries(1, 4), undefined);
    kept.keep('busy', '1000-4', 4, entries(5, 8), undefined);
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
    kept.keep('k', '1000-0', 256, entries(1, 6), hub);
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

  it('keeps about 2 MiB in all, dropping the least recently used first', () => {
    const kept = new KeptAnswers();
    const big = (n: number): HistoryEntry[] => [
      { id: `1000-${n}`, channel: 'gym:1:a', payload: 'x'.repeat(600_000) },
    ];
    kept.keep('a', '1000-0', 1, big(1), undefined);
    kept.keep('b', '1000-1', 1, big(2), undefined);
    assert.ok(kept.reuse('a', undefined), 'a used: b is now the least recently used');
    kept.keep('c', '1000-2', 1, big(3), undefined);
    kept.keep('d', '1000-3', 1, big(4), undefined);
    assert.equal(kept.reuse('b', undefined), undefined, 'b dropped');
    assert.ok(kept.reuse('a', undefined));
    assert.ok(kept.reuse('d', undefined));
  });
});
