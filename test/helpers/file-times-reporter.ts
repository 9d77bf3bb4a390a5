/**
 * A node:test reporter that writes how long each test file took, slowest first, with its counts:
 * the wall time of the file's own process (start, imports, hooks and tests), as the runner timed
 * it against `--test-timeout`. Used by `npm run test:times` (scripts/test-times.ts) beside the spec
 * reporter; docs/testing.md lists the slowest files and their budgets.
 */
import path from 'node:path';
import type { TestEvent } from 'node:test/reporters';

/** What one file did. */
interface FileTimes {
  durationMs: number | undefined;
  passed: number;
  failed: number;
  cancelled: number;
}

// node:test marks a test stopped by its own timeout or by its parent's end like this; its summary
// counts them as cancelled, not failed.
const CANCELLED = new Set(['testTimeoutFailure', 'cancelledByParent']);

type Complete = Extract<TestEvent, { type: 'test:complete' }>['data'];

function cancelled(data: Complete): boolean {
  const error = data.details.error as { failureType?: unknown } | undefined;
  return typeof error?.failureType === 'string' && CANCELLED.has(error.failureType);
}

/** The table: one line a file, slowest first, then the sum of the files' times. */
export function formatFileTimes(files: ReadonlyMap<string, FileTimes>, cwd: string): string {
  const rows = [...files.entries()].sort(
    ([, a], [, b]) => (b.durationMs ?? Number.POSITIVE_INFINITY) - (a.durationMs ?? 0),
  );
  const total = rows.reduce((sum, [, file]) => sum + (file.durationMs ?? 0), 0);
  const lines = rows.map(([file, times]) => {
    const seconds = times.durationMs === undefined ? '?' : (times.durationMs / 1000).toFixed(1);
    const counts = [
      `${times.passed} passed`,
      ...(times.failed > 0 ? [`${times.failed} FAILED`] : []),
      ...(times.cancelled > 0 ? [`${times.cancelled} CANCELLED`] : []),
    ].join(', ');
    return `${seconds.padStart(7)} s  ${path.relative(cwd, file).padEnd(42)} ${counts}`;
  });
  return [
    `# time per test file, slowest first (${rows.length} files, ${(total / 1000).toFixed(1)} s in all)`,
    ...lines,
    '',
  ].join('\n');
}

/** The reporter: records every file's time and counts, and yields the table when the run ends. */
export default async function* fileTimesReporter(
  source: AsyncIterable<TestEvent>,
): AsyncGenerator<string> {
  const files = new Map<string, FileTimes>();
  const of = (file: string): FileTimes => {
    let times = files.get(file);
    if (times === undefined) {
      times = { durationMs: undefined, passed: 0, failed: 0, cancelled: 0 };
      files.set(file, times);
    }
    return times;
  };
  for await (const event of source) {
    // Every test, suites and files too, completes once (before its pass or fail is reported).
    if (event.type !== 'test:complete') continue;
    const { data } = event;
    if (data.file === undefined) continue;
    const times = of(data.file);
    // The file itself: node:test runs each file as a test of the runner, named by its path.
    if (data.nesting === 0 && data.name === data.file) {
      times.durationMs = data.details.duration_ms;
      // A file whose process failed on its own (a timeout, a crash) counts once.
      if (!data.details.passed && cancelled(data)) times.cancelled++;
      else if (!data.details.passed && times.failed + times.cancelled === 0) times.failed++;
    } else if (data.details.type !== 'suite') {
      if (data.details.passed) times.passed++;
      else if (cancelled(data)) times.cancelled++;
      else times.failed++;
    }
  }
  yield formatFileTimes(files, process.cwd());
}
