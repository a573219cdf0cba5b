// Playwright Test config for the sample project run_playwright is tested
// against. The worker runs `playwright test --config tests/e2e/playwright.config.js`
// from the workspace root and passes the browser in the environment:
//   QF_CHROMIUM   the Chromium binary to launch (the worker's, e.g. Debian's
//                 /usr/bin/chromium); Playwright never downloads a browser.
// The worker also sets --reporter (JUnit into its tool directory) and
// --output (screenshots, traces), so the values below are for local runs.
const { defineConfig } = require('@playwright/test');

// The flags Debian's Chromium needs to start headless as root in a
// container, without reaching out to Google's update and sync services.
const chromiumArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

module.exports = defineConfig({
  testDir: '.',
  testMatch: '*.spec.js',
  retries: 0,
  workers: 1,
  timeout: 15000,
  expect: { timeout: 2000 },
  forbidOnly: true,
  reporter: [['list']],
  use: {
    headless: true,
    screenshot: 'on', // passing tests leave a screenshot too
    trace: 'retain-on-failure',
    video: 'off', // Playwright records video with its own ffmpeg build,
                  // which is only there after `playwright install`
    launchOptions: {
      executablePath: process.env.QF_CHROMIUM || '/usr/bin/chromium',
      args: chromiumArgs,
    },
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
});
