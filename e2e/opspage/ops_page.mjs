// Opens Parley's /ops dashboard in Debian's headless Chromium: refused
// without the ops token, then with it the stream and consumer rows and a
// chart with data points; saves a screenshot. Prints one JSON line with what
// it saw; exits non-zero on any failure. Run by api/ops_page_test.go with
// OPS_URL, OPS_TOKEN and OPS_SCREENSHOT set.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const base = process.env.OPS_URL;
const token = process.env.OPS_TOKEN;
const shot = process.env.OPS_SCREENSHOT;
const timeout = 20000;

const profile = mkdtempSync(join(tmpdir(), 'parley-ops-chromium-'));
// A persistent context on a fresh profile dir: Playwright passes it to
// Chromium as --user-data-dir.
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1400, height: 1000 },
  timeout,
});
const out = { foreign: [], consoleErrors: [] };
try {
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(timeout);
  page.on('request', r => { if (!r.url().startsWith(base) && !r.url().startsWith('data:')) out.foreign.push(r.url()); });
  page.on('console', m => { if (m.type() === 'error') out.consoleErrors.push(m.text()); });

  // Without the token: refused, with the login form and no data.
  const refused = await page.goto(base + '/ops');
  out.refusedStatus = refused.status();
  out.refusedText = await page.locator('#refused').innerText();
  out.refusedHasStreams = await page.locator('#streams').count();
  out.apiWithoutToken = await page.evaluate(async () => (await fetch('/api/ops/stats')).status);
  out.badToken = (await page.goto(base + '/ops?token=not-a-token')).status();

  // With it: the token goes into a cookie, the address bar loses it.
  const ok = await page.goto(base + '/ops?token=' + encodeURIComponent(token));
  out.status = ok.status();
  out.finalURL = page.url();
  await page.locator('#streams tbody tr[data-name="MESSAGES"]').waitFor();
  await page.locator('#consumers tbody tr[data-name="notifications"]').waitFor();
  await page.waitForFunction(() => document.querySelectorAll('#chart-throughput circle.pt').length >= 3);
  await page.waitForFunction(() => document.getElementById('status').classList.contains('ok'));
  out.streamRow = await page.locator('#streams tbody tr[data-name="MESSAGES"]').innerText();
  out.consumerRow = await page.locator('#consumers tbody tr[data-name="notifications"]').innerText();
  out.projectionRows = await page.locator('#projections tbody tr').count();
  out.chartPoints = await page.locator('#chart-throughput circle.pt').count();
  out.lagChartPoints = await page.locator('#chart-lag circle.pt').count();
  out.connections = await page.locator('#t-conns').innerText();
  out.health = await page.locator('#health').innerText();
  await page.screenshot({ path: shot, fullPage: true });
  out.screenshot = shot;
  console.log(JSON.stringify(out));
} catch (e) {
  out.error = String(e && e.stack || e);
  console.log(JSON.stringify(out));
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
