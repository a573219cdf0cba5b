const { test, expect } = require('@playwright/test');
const { siteUrl } = require('./site');

test('heading welcomes the user', async ({ page }) => {
  await page.goto(siteUrl);
  await expect(page).toHaveTitle('QualityFoundry sample');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Welcome to QualityFoundry');
});
