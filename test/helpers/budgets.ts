/**
 * How long the suite's heavy steps may take: a few times what each took on CI's two cores shared
 * with other work (figures in docs/testing.md), so that a busy machine slows them without failing
 * them, while a hang still fails with the step's name. A unit test needs none of these: its own
 * waits (`waitFor`, a collector's `waitFor`) carry deadlines that say what did not happen.
 *
 * On node 20, `--test-timeout` in package.json's `npm test` bounds each test FILE as a whole, and
 * is every test's default too: it must exceed every budget here (test/budgets.test.ts checks).
 */

/** `npm pack` (whose prepack builds dist/ with tsc and esbuild), unpacking, a consumer's import. */
export const PACK_AND_INSTALL_MS = 480_000;

/** A strict `tsc` over a consumer of the packed types (skipLibCheck off: every .d.ts read). */
export const TYPECHECK_CONSUMER_MS = 240_000;

/**
 * A first `go build` of test/go (the Go eventrail and go-redis: one to two minutes on two busy
 * cores, over three minutes with a cold cache at a load average of 28; seconds once Go's build
 * cache has them).
 */
export const GO_BUILD_MS = 360_000;

/** Six `redis-server` processes joined into a Redis Cluster, every replica in sync. */
export const REDIS_CLUSTER_MS = 60_000;

/** An example server (`node --import tsx examples/...`) compiling its sources and listening. */
export const EXAMPLE_START_MS = 60_000;

/**
 * A browser started (Chromium, Firefox, or WebKit under Xvfb, one process per profile) and a demo
 * cluster's eight tabs of one user opened on one shared stream (about 35 s for WebKit at a load
 * average of 35 on two cores).
 */
export const BROWSER_TABS_MS = 180_000;

/** Every budget above, by name: what test/budgets.test.ts compares with `--test-timeout`. */
export const BUDGETS: Readonly<Record<string, number>> = {
  PACK_AND_INSTALL_MS,
  TYPECHECK_CONSUMER_MS,
  GO_BUILD_MS,
  REDIS_CLUSTER_MS,
  EXAMPLE_START_MS,
  BROWSER_TABS_MS,
};
