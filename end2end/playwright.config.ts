import { defineConfig } from '@playwright/test';

// The test script starts the app and passes its address in BASE_URL. Every
// journey creates its own users (support.ts, newUser), so tests run in
// parallel, each once on a laptop and once on a phone.
export default defineConfig({
  testDir: './tests',
  // The test script keeps these outside the clone (E2E_ARTIFACTS).
  outputDir: process.env.E2E_ARTIFACTS ? `${process.env.E2E_ARTIFACTS}/test-results` : 'test-results',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  workers: Number(process.env.E2E_WORKERS ?? 3),
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: process.env.BASE_URL ?? 'http://127.0.0.1:3000',
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      // Debian's Chromium; Playwright never downloads a browser here.
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    },
  },
  projects: [
    { name: 'desktop', use: { viewport: { width: 1280, height: 800 } } },
    {
      name: 'phone',
      use: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
      // These walk through both sizes themselves, or need no second run.
      testIgnore: /screens\.spec|nojs\.spec/,
    },
  ],
});
