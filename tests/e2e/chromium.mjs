// Headless Debian Chromium (playwright-core) for crashreport's end-to-end tests: a fresh
// profile, no background traffic, and every request that would leave this machine refused
// (and noted in `blocked`).
import { chromium } from 'playwright-core';

const LOCAL = new Set(['127.0.0.1', 'localhost', '[::1]']);

export async function launch(cfg) {
  const context = await chromium.launchPersistentContext(cfg.userDataDir, {
    executablePath: cfg.executablePath ?? '/usr/bin/chromium',
    headless: true,
    viewport: cfg.viewport ?? { width: 1000, height: 700 },
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
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(cfg.timeout ?? 30000);
  return { context, page, blocked };
}

// Runs `steps(page, result)` and prints one JSON line: what it put in `result`, `blocked`, `ok`
// (and `error`, the page's URL and a screenshot at `cfg.failPng`); exits 1 when a step failed.
export async function run(cfg, steps) {
  const { context, page, blocked } = await launch(cfg);
  const result = { blocked };
  try {
    await steps(page, result);
    result.ok = true;
  } catch (err) {
    result.ok = false;
    result.error = String(err && err.stack ? err.stack : err);
    result.failedUrl = page.url();
    if (cfg.failPng) await page.screenshot({ path: cfg.failPng }).catch(() => {});
  } finally {
    await context.close();
  }
  console.log(JSON.stringify(result));
  process.exit(result.ok ? 0 : 1);
}
