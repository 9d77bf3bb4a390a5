/**
 * The gym demo across two instances behind a proxy (test/e2e/gym-demo-suite.ts) in Firefox
 * (Debian's `firefox-esr`, over WebDriver BiDi). Not the screenshot: that is Chromium's.
 */
import { gymDemoSuite } from './e2e/gym-demo-suite.js';

gymDemoSuite('firefox');
