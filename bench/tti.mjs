// Time to interactive of a page in headless Chromium (issue #13, workload 5):
// from the start of navigation to the moment the app marks the body
// `data-hydrated` (the wasm loaded, ran and attached its handlers), plus
// what the browser downloaded for it. Prints one JSON object.
//
// Usage: node bench/tti.mjs URL COOKIE RUNS   (COOKIE as `name=value`, or "")
// Playwright comes from end2end/node_modules; the browser is Debian's Chromium.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'end2end', 'package.json'));
const { chromium } = require('@playwright/test');

const [url, cookie, runsText] = process.argv.slice(2);
const runs = Number(runsText || 5);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const samples = [];
let transfer = null;
for (let run = 0; run < runs; run += 1) {
  // A fresh context each time: nothing cached, as for a first visit.
  const context = await browser.newContext();
  if (cookie) {
    const [name, ...rest] = cookie.split('=');
    await context.addCookies([{ name, value: rest.join('='), url }]);
  }
  await context.addInitScript(() => {
    new MutationObserver((_, observer) => {
      if (document.body?.dataset.hydrated === 'true') {
        window.__hydratedAt = performance.now();
        observer.disconnect();
      }
    }).observe(document, { attributes: true, subtree: true, childList: true });
  });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('requestfailed', (r) => errors.push(`${r.url()}: ${r.failure()?.errorText}`));
  await page.goto(url, { waitUntil: 'load' });
  try {
    await page.waitForFunction(() => window.__hydratedAt !== undefined, null, { timeout: 30000 });
  } catch (e) {
    console.error(`${url} did not hydrate within 30 s:\n${errors.join('\n')}`);
    process.exit(1);
  }
  const timing = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const resources = performance.getEntriesByType('resource').map((r) => ({
      name: r.name.split('/').pop(), transfer: r.transferSize, body: r.encodedBodySize, decoded: r.decodedBodySize,
    }));
    return {
      hydrated_ms: window.__hydratedAt,
      first_byte_ms: nav.responseStart,
      dom_content_loaded_ms: nav.domContentLoadedEventEnd,
      load_ms: nav.loadEventEnd,
      resources,
    };
  });
  if (errors.length) {
    console.error(errors.join('\n'));
    process.exit(1);
  }
  samples.push(timing);
  transfer = timing.resources;
  await context.close();
}
await browser.close();
const median = (key) => {
  const values = samples.map((s) => s[key]).sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)];
};
console.log(JSON.stringify({
  runs,
  tti_ms: median('hydrated_ms'),
  tti_max_ms: Math.max(...samples.map((s) => s.hydrated_ms)),
  first_byte_ms: median('first_byte_ms'),
  dom_content_loaded_ms: median('dom_content_loaded_ms'),
  load_ms: median('load_ms'),
  resources: transfer,
}));
