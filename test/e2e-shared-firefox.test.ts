/**
 * The shared-stream proof of test/e2e-shared.test.ts and test/e2e-shared-locks.test.ts
 * (test/e2e/shared-suite.ts), in Firefox (Debian's `firefox-esr`, over WebDriver BiDi): with its
 * SharedWorker, then with SharedWorker deleted (Web Locks + BroadcastChannel).
 */
import { sharedStreamSuite } from './e2e/shared-suite.js';

sharedStreamSuite('worker', 'firefox');
sharedStreamSuite('locks', 'firefox');
