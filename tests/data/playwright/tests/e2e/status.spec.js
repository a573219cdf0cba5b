const { test, expect } = require('@playwright/test');
const { siteUrl } = require('./site');

// Fails on purpose: the page never says this. run_playwright's tests expect
// exactly one failure (with a screenshot and a trace) from this spec.
test('status reports an outage (fails on purpose)', async ({ page }) => {
  await page.goto(siteUrl);
  await expect(page.locator('#status')).toHaveText('Major outage in progress');
});
