import { expect, test } from '@playwright/test';

import { hydrated, logIn, payWith, startCheckout } from './support';

// Buying credits through the Stripe emulator's hosted Checkout page (its
// element ids follow Stripe's: #cardNumber, #submit, …).

test('a user buys the Starter Pack, then gives up after a declined card', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));

  await logIn(page, 'alice', 'alice-password');
  await page.goto('/credits');
  await hydrated(page);
  await expect(page.locator('#balance')).toHaveText('0');
  await expect(page.locator('[data-package="pro"]')).toContainText('Popular');

  // A working card: back on the success banner with the credits already there.
  await startCheckout(page, 'starter');
  await payWith(page, '4242 4242 4242 4242');
  await page.waitForURL((url) => url.pathname === '/credits' && url.searchParams.has('session_id'));
  await hydrated(page);
  await expect(page.locator('#checkout-banner')).toHaveAttribute('data-kind', 'success');
  await expect(page.locator('#balance')).toHaveText('1,000');
  const rows = page.locator('#history tbody tr');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('Starter Pack');
  await expect(rows.first().locator('[data-status]')).toHaveAttribute('data-status', 'completed');

  // A declined card, then cancel: nothing charged, balance unchanged.
  await startCheckout(page, 'starter');
  await payWith(page, '4000 0000 0000 0002');
  await expect(page.locator('#error')).toContainText('declined');
  await page.locator('#cancel').click();
  await page.waitForURL((url) => url.pathname === '/credits' && url.searchParams.get('checkout') === 'cancelled');
  await hydrated(page);
  await expect(page.locator('#checkout-banner')).toHaveAttribute('data-kind', 'cancelled');
  await expect(page.locator('#balance')).toHaveText('1,000');
  // The abandoned checkout is closed, not left pending.
  await expect(rows).toHaveCount(2);
  await expect(rows.first().locator('[data-status]')).toHaveAttribute('data-status', 'expired');
  await expect(rows.nth(1).locator('[data-status]')).toHaveAttribute('data-status', 'completed');

  expect(errors).toEqual([]);
});

test('anonymous visitors are sent to log in from /credits', async ({ page }) => {
  await page.goto('/credits');
  await expect(page.locator('#kc-form-login')).toBeVisible();
});
