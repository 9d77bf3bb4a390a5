/**
 * The gym demo across two instances behind a proxy (test/e2e/gym-demo-suite.ts), in Chromium; it
 * also takes docs/screenshot.png (`npm run docs:screenshot`). test/e2e-browser-firefox.test.ts and
 * test/e2e-browser-webkit.test.ts run the same suite in the other engines.
 */
import { gymDemoSuite } from './e2e/gym-demo-suite.js';

gymDemoSuite('chromium');
