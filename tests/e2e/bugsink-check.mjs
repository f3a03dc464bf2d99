// Drive Bugsink's UI in headless Debian Chromium (playwright-core) for crashreport's e2e test.
//
//   node bugsink-check.mjs '{"url": "http://127.0.0.1:PORT", "userDataDir": "...",
//                            "user": "...", "password": "...", "project": 1, "issue": "<uuid>",
//                            "expect": "FileNotFoundError", "shots": "<folder>"}'
//
// Logs in, opens the project's issue list, the stack trace and its details, and prints
// one JSON object with the text of each page and every request it refused.
import { run } from './chromium.mjs';

const cfg = JSON.parse(process.argv[2]);
await run({ ...cfg, viewport: { width: 1200, height: 900 } }, async (page, result) => {
  await page.goto(`${cfg.url}/accounts/login/`);
  await page.fill('input[name="username"]', cfg.user);
  await page.fill('input[name="password"]', cfg.password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/accounts/login')),
                     page.press('input[name="password"]', 'Enter')]);

  const pages = [
    ['list', `/issues/${cfg.project}/`],
    ['stacktrace', `/issues/issue/${cfg.issue}/event/last/`],
    ['details', `/issues/issue/${cfg.issue}/event/last/details/`],
  ];
  for (const [name, path] of pages) {
    await page.goto(cfg.url + path);
    await page.getByText(cfg.expect).first().waitFor();
    result[`${name}Url`] = page.url();
    result[`${name}Text`] = await page.innerText('body');
    await page.screenshot({ path: `${cfg.shots}/bugsink-${name}.png`, fullPage: name !== 'list' });
  }
});
