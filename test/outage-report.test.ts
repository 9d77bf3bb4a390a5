import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Outage, type OutageReport } from '../src/util/outage.js';

describe('Outage (reports per transition, on an injected clock)', () => {
  it('reports the first failure, then at most one reminder per period, then the recovery', () => {
    let now = 1_000;
    const reports: OutageReport[] = [];
    const outage = new Outage(
      10_000,
      (r) => reports.push(r),
      () => now,
    );
    outage.recovered(); // up already: nothing to say
    assert.equal(reports.length, 0);
    for (let i = 0; i < 50; i++) {
      outage.failure(new Error(`attempt ${i}`));
      now += 500; // 50 attempts over 25 s
    }
    assert.deepEqual(
      reports.map((r) => [r.kind, r.failures, r.downForMs, r.error?.message]),
      [
        ['down', 1, 0, 'attempt 0'],
        ['still-down', 21, 10_000, 'attempt 20'],
        ['still-down', 41, 20_000, 'attempt 40'],
      ],
    );
    assert.equal(outage.down, true);
    outage.recovered();
    outage.recovered();
    assert.deepEqual(reports.at(-1), { kind: 'back', failures: 50, downForMs: 25_000 });
    assert.equal(reports.length, 4, 'the recovery is reported once');
    assert.equal(outage.down, false);
    outage.failure(new Error('again'));
    assert.equal(reports.at(-1)?.kind, 'down', 'a new outage is reported anew');
  });

  it('with no reminder period reports only the transitions', () => {
    let now = 0;
    const kinds: string[] = [];
    const outage = new Outage(
      0,
      (r) => kinds.push(r.kind),
      () => now,
    );
    for (let i = 0; i < 100; i++) {
      outage.failure(new Error('x'));
      now += 60_000;
    }
    outage.recovered();
    assert.deepEqual(kinds, ['down', 'back']);
  });
});
