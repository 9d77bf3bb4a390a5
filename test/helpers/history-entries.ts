/**
 * History entries and replay readers for the unit tests of the server's history reads
 * (test/history-reads.unit.test.ts, test/kept-answers.unit.test.ts).
 */
import type { HistoryEntry } from '../../src/types.js';
import type { Position } from '../../src/wire/event-ids.js';

/** Entry `1000-{seq}` of scope gym:1. */
export const entry = (seq: number): HistoryEntry => ({
  id: `1000-${seq}`,
  channel: 'gym:1:a',
  payload: '{}',
});

/** Entries `from` to `to`, both included. */
export const entries = (from: number, to: number): HistoryEntry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => entry(from + i));

/** A hub (the reader of a replay) that has delivered up to `1000-{seq}`, or nothing. */
export const hubAt = (seq: number | undefined): { lastSeen: Position | undefined } => ({
  lastSeen: seq === undefined ? undefined : { ms: 1000, seq },
});
