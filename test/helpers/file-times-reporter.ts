/**
 * A node:test reporter that writes how long each test file took, slowest first, and whether it
 * passed: the wall time of the file's own process (start, imports, hooks and tests), as the runner timed
 * it against `--test-timeout`. Used by `npm run test:times` (scripts/test-times.ts) beside the spec
 * reporter; docs/testing.md lists the slowest files and their budgets.
 */
import path from 'node:path';
import type { TestEvent } from 'node:test/reporters';

/** How one file ended: its process's wall time, and whether it passed. */
interface FileTimes {
  durationMs: number;
  /** `passed`, `FAILED`, or `TIMED OUT` (the file's process hit `--test-timeout`). */
  outcome: string;
}

type Complete = Extract<TestEvent, { type: 'test:complete' }>['data'];

function outcome(data: Complete): string {
  if (data.details.passed) return 'passed';
  const error = data.details.error as { failureType?: unknown } | undefined;
  return error?.failureType === 'testTimeoutFailure' ? 'TIMED OUT' : 'FAILED';
}

/** The table: one line a file, slowest first, then the sum of the files' times. */
export function formatFileTimes(files: ReadonlyMap<string, FileTimes>, cwd: string): string {
  const rows = [...files.entries()].sort(([, a], [, b]) => b.durationMs - a.durationMs);
  const total = rows.reduce((sum, [, file]) => sum + file.durationMs, 0);
  const lines = rows.map(
    ([file, times]) =>
      `${(times.durationMs / 1000).toFixed(1).padStart(7)} s  ${path.relative(cwd, file).padEnd(42)} ${times.outcome}`,
  );
  return [
    `# time per test file, slowest first (${rows.length} files, ${(total / 1000).toFixed(1)} s in all)`,
    ...lines,
    '',
  ].join('\n');
}

/** The reporter: records every file's time and outcome, and yields the table when the run ends. */
export default async function* fileTimesReporter(
  source: AsyncIterable<TestEvent>,
): AsyncGenerator<string> {
  const files = new Map<string, FileTimes>();
  for await (const event of source) {
    // node:test runs each file as a test of the runner, named by its path; the tests inside may
    // name another file (a helper that defines them), so only the file's own test is read.
    if (event.type !== 'test:complete') continue;
    const { data } = event;
    if (data.nesting !== 0 || data.file === undefined || data.name !== data.file) continue;
    files.set(data.file, { durationMs: data.details.duration_ms, outcome: outcome(data) });
  }
  yield formatFileTimes(files, process.cwd());
}
