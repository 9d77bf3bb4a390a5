/**
 * The suite's time budgets hold together: node 20 applies `--test-timeout` to each test file as a
 * whole, so a heavy step's own budget (test/helpers/budgets.ts) means nothing unless the file's
 * ceiling is above it; and the per-file times that `npm run test:times` reports add up.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { TestEvent } from 'node:test/reporters';
import { BUDGETS } from './helpers/budgets.js';
import fileTimesReporter from './helpers/file-times-reporter.js';

/** Room in a file for what runs around its heavy step: start-up, imports, its other tests. */
const AROUND_MS = 60_000;

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  scripts: Record<string, string>;
};

function testTimeout(script: string): number {
  const match = /--test-timeout=(\d+)/.exec(pkg.scripts[script] ?? '');
  assert.ok(match?.[1], `npm run ${script} sets --test-timeout: ${pkg.scripts[script]}`);
  return Number(match[1]);
}

describe('time budgets', () => {
  it("npm test's per-file timeout leaves room for every heavy step's budget", () => {
    const ceiling = testTimeout('test');
    for (const [name, budget] of Object.entries(BUDGETS)) {
      assert.ok(
        budget + AROUND_MS <= ceiling,
        `${name} (${budget} ms) plus ${AROUND_MS} ms does not fit --test-timeout=${ceiling}`,
      );
    }
  });

  it('docs/testing.md names the per-file timeout and every budget', () => {
    const doc = readFileSync(new URL('../docs/testing.md', import.meta.url), 'utf8');
    assert.ok(doc.includes(`--test-timeout=${testTimeout('test')}`), 'the per-file timeout');
    for (const name of Object.keys(BUDGETS)) assert.ok(doc.includes(name), name);
  });
});

describe('the time-per-file reporter', () => {
  const complete = (file: string, name: string, nesting: number, ms: number, error?: string) =>
    ({
      type: 'test:complete',
      data: {
        file,
        name,
        nesting,
        testNumber: 1,
        line: 1,
        column: 1,
        details: {
          passed: error === undefined,
          duration_ms: ms,
          ...(error === undefined
            ? {}
            : { error: Object.assign(new Error(error), { failureType: error }) }),
        },
      },
    }) as TestEvent;

  async function report(events: TestEvent[]): Promise<string[]> {
    async function* source(): AsyncGenerator<TestEvent> {
      yield* events;
    }
    let text = '';
    for await (const chunk of fileTimesReporter(source())) text += chunk;
    return text.trimEnd().split('\n');
  }

  it("lists every file with its process's time and outcome, slowest first", async () => {
    const cwd = process.cwd();
    const [a, b, c] = ['a', 'b', 'c'].map((name) => `${cwd}/test/${name}.test.ts`);
    const lines = await report([
      complete(`${cwd}/test/helpers/suite.ts`, 'a test a helper defines', 0, 100),
      complete(a as string, 'one', 0, 100),
      complete(a as string, a as string, 0, 2_500),
      complete(b as string, 'slow', 1, 60_000, 'testCodeFailure'),
      complete(b as string, b as string, 0, 61_000, 'testCodeFailure'),
      complete(c as string, c as string, 0, 90_000, 'testTimeoutFailure'),
    ]);
    assert.match(
      lines[0] ?? '',
      /^# time per test file, slowest first \(3 files, 153\.5 s in all\)$/,
    );
    assert.deepEqual(
      lines.slice(1).map((line) => line.trim().split(/\s+/)),
      [
        ['90.0', 's', 'test/c.test.ts', 'TIMED', 'OUT'],
        ['61.0', 's', 'test/b.test.ts', 'FAILED'],
        ['2.5', 's', 'test/a.test.ts', 'passed'],
      ],
    );
  });
});
