// Drive Spotlight's UI in headless Debian Chromium (playwright-core) for crashreport's e2e test.
//
//   node browser-check.mjs '{"url": "...", "userDataDir": "...", "expect": "FileNotFoundError",
//                            "listPng": "...", "detailPng": "..."}'
//
// Opens the UI, clicks "Errors", waits for the expected exception in the list, opens it, and
// prints one JSON object: the text of the list, of the detail and its tabs, and every request
// it refused (anything not on this machine: the UI's own telemetry to sentry.io, for one).
import { run } from './chromium.mjs';

const cfg = JSON.parse(process.argv[2]);
await run(cfg, async (page, result) => {
  await page.goto(cfg.url);
  await page.getByRole('link', { name: /^Errors/ }).first().click();
  const row = page.getByText(cfg.expect).first();
  await row.waitFor();
  result.listUrl = page.url();
  result.listText = await page.innerText('body');
  await page.screenshot({ path: cfg.listPng });

  await row.click();
  await page.waitForURL(/\/errors\/[0-9a-f]+/);
  await page.getByRole('tab', { name: 'Details' }).or(page.getByText('Details', { exact: true })).first().waitFor();
  result.detailUrl = page.url();
  result.detailText = await page.innerText('body');
  await page.screenshot({ path: cfg.detailPng });
  for (const tab of ['Breadcrumbs', 'Context']) {
    await page.getByText(tab, { exact: true }).first().click();
    await page.waitForTimeout(500);
    result[`${tab.toLowerCase()}Text`] = await page.innerText('body');
  }
});
