/**
 * The gym demo across two instances behind a proxy (test/e2e/gym-demo-suite.ts) in WebKit
 * (WebKitGTK's MiniBrowser under Xvfb, through WebKitWebDriver; each user a driver and browser of
 * its own). Not the screenshot: that is Chromium's.
 */
import { gymDemoSuite } from './e2e/gym-demo-suite.js';

gymDemoSuite('webkit');
