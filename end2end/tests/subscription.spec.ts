import type { Page } from '@playwright/test';

import { expect, hydrated, logInAsNewUser, payWith, test } from './support';

// A subscriber's whole journey: subscribe to Professional monthly through
// Checkout, see the plan and its allowance, upgrade to Enterprise seeing the
// prorated amount, visit the portal and come back, cancel at period end and
// see the end date, then resume.

async function balance(page: Page): Promise<number> {
  const text = (await page.locator('#header-balance').textContent()) ?? '';
  return Number(text.replace(/[^0-9-]/g, ''));
}

test('subscribe, upgrade with proration, visit the portal, cancel and resume', async ({ page }) => {
  test.setTimeout(90_000);
  await logInAsNewUser(page, 'Alice');
  await page.goto('/billing');
  await hydrated(page);
  await expect(page.locator('#no-plan')).toBeVisible();
  await expect(page.locator('#header-plan')).toHaveText('No active plan');
  const before = await balance(page);

  await page.locator('#choose-plan').click();
  await page.waitForURL((url) => url.pathname === '/billing/plans');
  await hydrated(page);
  await expect(page.locator('[data-tier="professional"] [data-role="allowance"]')).toContainText('6,000');
  await page.locator('#cycle-yearly').click();
  await expect(page.locator('[data-tier="professional"] [data-role="saving"]')).toHaveText('Save $98.00 a year');
  await page.locator('#cycle-monthly').click();
  await page.locator('[data-tier="professional"] [data-role="choose"]').click();
  await page.waitForURL((url) => url.pathname.startsWith('/c/pay/'));
  await payWith(page, '4242 4242 4242 4242');
  await page.waitForURL((url) => url.pathname === '/billing' && url.searchParams.has('session_id'));
  await hydrated(page);
  await expect(page.locator('#subscribe-banner')).toBeVisible();
  await expect(page.locator('#plan-tier')).toHaveText('Professional');
  await expect(page.locator('#plan-status')).toHaveAttribute('data-status', 'active');
  await expect(page.locator('#plan-cycle')).toHaveText('Monthly');
  await expect(page.locator('#plan-allowance')).toContainText('6,000');
  await expect(page.locator('#card-on-file')).toContainText('4242');

  // The allowance reaches the balance through Stripe's invoice.paid webhook.
  await expect
    .poll(async () => {
      await page.goto('/billing');
      await hydrated(page);
      return balance(page);
    })
    .toBe(before + 6000);
  await expect(page.locator('#header-plan')).toHaveText('Professional');
  await expect(page.locator('#invoices .invoice')).toHaveCount(1);

  // Upgrade: the confirm step shows Stripe's prorated amount due now.
  await page.locator('#change-plan').click();
  await page.waitForURL((url) => url.pathname === '/billing/plans');
  await hydrated(page);
  await expect(page.locator('[data-tier="professional"] [data-role="current"]')).toBeVisible();
  await page.locator('[data-tier="enterprise"] [data-role="choose"]').click();
  await expect(page.locator('#change-confirm')).toBeVisible();
  await expect(page.locator('#change-amount')).toHaveText(/^\$(?!0\.00)\d+\.\d\d$/);
  await page.locator('#change-confirm-yes').click();
  await page.waitForURL((url) => url.pathname === '/billing');
  await hydrated(page);
  await expect(page.locator('#plan-tier')).toHaveText('Enterprise');

  // The portal, and back.
  await page.locator('#manage-billing').click();
  await page.waitForURL((url) => url.pathname.startsWith('/p/session/'));
  await expect(page.locator('section.subscription')).toHaveCount(1);
  await page.locator('#return').click();
  await page.waitForURL((url) => url.pathname === '/billing');
  await hydrated(page);

  // Cancel at period end, with a confirm step saying what happens and when.
  await page.locator('#cancel-plan').click();
  await expect(page.locator('#cancel-confirm')).toContainText('stays active until');
  await page.locator('#cancel-confirm-yes').click();
  await expect(page.locator('#plan-ends')).toContainText('Ends on');
  await expect(page.locator('#plan-tier')).toHaveText('Enterprise');

  await page.locator('#resume-plan').click();
  await expect(page.locator('#plan-renews')).toContainText('Renews on');
  await expect(page.locator('#cancel-plan')).toBeVisible();

});
