// Drive Spotlight's UI in headless Debian Chromium (playwright-core) for crashreport's e2e test.
//
//   node browser-check.mjs '{"url": "...", "userDataDir": "...", "expect": "FileNotFoundError",
//                            "listPng": "...", "detailPng": "..."}'
//
// Opens the UI, clicks "Errors", waits for the expected exception in the list, opens it, and
// prints one JSON object: the text of the list, of the detail and its tabs, and every request
// it refused (anything not on this machine: the UI's own telemetry to sentry.io, for one).
import { chromium } from 'playwright-core';

const cfg = JSON.parse(process.argv[2]);
const timeout = cfg.timeout ?? 30000;
const LOCAL = new Set(['127.0.0.1', 'localhost', '[::1]']);

const context = await chromium.launchPersistentContext(cfg.userDataDir, {
  executablePath: cfg.executablePath ?? '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1000, height: 700 },
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
const blocked = [];
await context.route('**/*', (route) => {
  const url = new URL(route.request().url());
  if (LOCAL.has(url.hostname)) return route.continue();
  blocked.push(url.origin + url.pathname);
  return route.abort();
});
const result = { blocked };
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(timeout);
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
  result.ok = true;
} catch (err) {
  result.ok = false;
  result.error = String(err && err.stack ? err.stack : err);
} finally {
  await context.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
