/**
 * The shared-stream proof of test/e2e-shared.test.ts (test/e2e/shared-suite.ts) in WebKit
 * (WebKitGTK's MiniBrowser under Xvfb, through WebKitWebDriver), with its SharedWorker. The Web
 * Locks fallback is not run here (classic WebDriver cannot delete SharedWorker before the page's
 * scripts); it is proven in Chromium and Firefox.
 */
import { sharedStreamSuite } from './e2e/shared-suite.js';

sharedStreamSuite('worker', 'webkit');
