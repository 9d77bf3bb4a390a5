/**
 * The fallback of the shared stream: SharedWorker deleted in every page, the tabs elect a leader
 * with Web Locks and relay over BroadcastChannel; the same proof as test/e2e-shared.test.ts
 * (test/e2e/shared-suite.ts), in Chromium against `demo:cluster`.
 */
import { sharedStreamSuite } from './e2e/shared-suite.js';

sharedStreamSuite('locks');
