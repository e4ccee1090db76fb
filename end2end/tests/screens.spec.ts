import AxeBuilder from '@axe-core/playwright';
import type { Page, TestInfo } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { buyStarter, expect, hydrated, logIn, logInAsNewUser, logOut, openUserMenu, test } from './support';

// Every screen, as a laptop and a phone show it, in light and dark mode:
// axe finds no serious or critical violation, nothing scrolls sideways, and
// a screenshot of each is kept to look at (SCREENSHOTS_DIR, by default
// end2end/screenshots).

const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;
const SCHEMES = ['light', 'dark'] as const;
const SHOTS = process.env.SCREENSHOTS_DIR ?? join(__dirname, '..', 'screenshots');

type Screen = { name: string; path: string; status?: number };
type Viewport = keyof typeof VIEWPORTS;

async function check(page: Page, testInfo: TestInfo, viewport: Viewport, screens: Screen[]) {
  mkdirSync(SHOTS, { recursive: true });
  await page.setViewportSize(VIEWPORTS[viewport]);
  for (const scheme of SCHEMES) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const screen of screens) {
      const where = `${screen.name} (${viewport}, ${scheme})`;
      const response = await page.goto(screen.path);
      expect(response?.status(), where).toBe(screen.status ?? 200);
      await hydrated(page);

      const results = await new AxeBuilder({ page })
        .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'])
        .analyze();
      const serious = results.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`);
      expect(serious, `axe on ${where}`).toEqual([]);

      const sideways = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(sideways, `horizontal scroll on ${where}`).toBeLessThanOrEqual(0);

      await page.screenshot({ path: join(SHOTS, `${viewport}-${scheme}-${screen.name}.png`), fullPage: true });
    }
  }
  await page.emulateMedia({ colorScheme: null });
  testInfo.annotations.push({ type: 'screenshots', description: SHOTS });
}

// One test per viewport, so the workers share the screens out.
for (const viewport of Object.keys(VIEWPORTS) as Viewport[]) {
  test(`anonymous screens are accessible (${viewport}, light and dark)`, async ({ page }, testInfo) => {
    await check(page, testInfo, viewport, [
      { name: 'home', path: '/' },
      { name: 'not-found', path: '/no-such-page', status: 404 },
    ]);
  });

  test(`a user's screens are accessible (${viewport}, light and dark)`, async ({ page }, testInfo) => {
    test.setTimeout(120_000);
    await logInAsNewUser(page, 'Alice');
    await check(page, testInfo, viewport, [
      { name: 'credits-empty', path: '/credits' },
      { name: 'activity-empty', path: '/credits?tab=activity' },
    ]);
    await buyStarter(page);
    await check(page, testInfo, viewport, [
      { name: 'credits', path: '/credits' },
      { name: 'activity', path: '/credits?tab=activity' },
      { name: 'billing', path: '/billing' },
      { name: 'plans', path: '/billing/plans' },
      { name: 'forbidden', path: '/admin/credits', status: 403 },
    ]);
  });

  test(`an admin's screens are accessible (${viewport}, light and dark)`, async ({ page }, testInfo) => {
    test.setTimeout(120_000);
    // At least one purchase to open, whatever else has run.
    const buyer = await logInAsNewUser(page, 'Buyer');
    await buyStarter(page);
    await logOut(page);
    await logIn(page, 'admin', 'admin-password');
    await page.goto(`/admin/credits?user=${encodeURIComponent(buyer.email)}`);
    await hydrated(page);
    const detail = await page.locator('#purchases tbody tr [data-role="open"]').first().getAttribute('href');
    expect(detail).toBeTruthy();
    await check(page, testInfo, viewport, [
      { name: 'admin-dashboard', path: '/admin/credits' },
      { name: 'admin-purchase', path: detail! },
      { name: 'admin-packages', path: '/admin/credits/packages' },
      { name: 'admin-wallets', path: `/admin/credits/wallets?user=${encodeURIComponent(buyer.email)}` },
      { name: 'admin-sync', path: '/admin/credits/sync' },
      { name: 'admin-no-matches', path: '/admin/credits?user=nobody-at-all%40example.com' },
    ]);
  });
}

test('the theme follows the system until chosen, and the choice is remembered', async ({ page }) => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto('/');
  await hydrated(page);
  const html = page.locator('html');
  await expect(html).not.toHaveAttribute('data-theme', /.*/);
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const dark = await background();
  expect(dark).not.toBe('rgb(248, 250, 252)');

  await page.locator('[data-theme-option="light"]').click();
  await expect(html).toHaveAttribute('data-theme', 'light');
  await expect(page.locator('[data-theme-option="light"]')).toHaveAttribute('aria-pressed', 'true');
  expect(await background()).not.toBe(dark);

  await page.reload();
  await hydrated(page);
  await expect(html).toHaveAttribute('data-theme', 'light');

  await page.locator('[data-theme-option="system"]').click();
  await expect(html).not.toHaveAttribute('data-theme', /.*/);
  expect(await background()).toBe(dark);
});

test('a keyboard reaches the skip link first, and the user menu opens and closes', async ({ page }) => {
  await logInAsNewUser(page, 'Alice');
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to content' });
  await expect(skip).toBeFocused();
  await expect(skip).toBeVisible();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/#main$/);

  await openUserMenu(page);
  await page.keyboard.press('Escape');
  await expect(page.locator('#logout')).toBeHidden();
  await openUserMenu(page);
  await page.locator('#user-menu').getByRole('link', { name: 'Billing' }).click();
  await page.waitForURL((url) => url.pathname === '/billing');
  await expect(page.locator('#logout')).toBeHidden();
});

test('on a phone the purchase history is a list of cards with every column', async ({ page }) => {
  await logInAsNewUser(page, 'Alice');
  await buyStarter(page);
  await page.setViewportSize(VIEWPORTS.phone);
  await page.goto('/credits');
  await hydrated(page);
  const row = page.locator('#history tbody tr').first();
  for (const label of ['Date', 'Package', 'Credits', 'Amount', 'Status']) {
    const cell = row.locator(`td[data-label="${label}"]`);
    await expect(cell).toBeVisible();
    const box = await cell.boundingBox();
    expect(box!.x + box!.width, `${label} fits the screen`).toBeLessThanOrEqual(VIEWPORTS.phone.width);
  }
  // Dates are localised after hydration, with the exact instant kept.
  await expect(row.locator('time')).toHaveAttribute('datetime', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
});

test('the accessibility check itself catches text too faint to read', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  // Tailwind's slate-400 on white (2.6:1), as the package editor had it.
  await page.addStyleTag({ content: '#packages p { color: #94a3b8 !important; }' });
  const results = await new AxeBuilder({ page }).withRules(['color-contrast']).analyze();
  expect(results.violations.map((v) => v.id)).toContain('color-contrast');
});
