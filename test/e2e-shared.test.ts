/**
 * Eight tabs of one user share one stream through a SharedWorker, in Chromium against
 * `demo:cluster` (the proof is test/e2e/shared-suite.ts; test/e2e-shared-locks.test.ts runs it
 * without SharedWorker).
 */
import { sharedStreamSuite } from './e2e/shared-suite.js';

sharedStreamSuite('worker');
