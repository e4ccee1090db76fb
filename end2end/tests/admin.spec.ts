import { expect, hydrated, logIn, logInAsNewUser, logOut, openUserMenu, payWith, startCheckout, test } from './support';

// The admin dashboard: bob buys a Starter Pack, then an admin finds it with
// the filters, opens it and exports the filtered table; bob is refused.

test('an admin filters to completed Starter purchases, opens one and exports CSV', async ({ page }) => {
  const bob = await logInAsNewUser(page, 'Bob');
  await page.goto('/credits');
  await hydrated(page);
  await startCheckout(page, 'starter');
  await payWith(page, '4242 4242 4242 4242');
  await page.waitForURL((url) => url.pathname === '/credits' && url.searchParams.has('session_id'));
  await expect(page.locator('#checkout-banner')).toHaveAttribute('data-kind', 'success');

  // An ordinary user: no admin link, and the dashboard refuses with 403.
  await expect(page.locator('#admin-link')).toHaveCount(0);
  const refused = await page.goto('/admin/credits');
  expect(refused?.status()).toBe(403);
  await expect(page.locator('#forbidden')).toBeVisible();
  await logOut(page);

  await logIn(page, 'admin', 'admin-password');
  await openUserMenu(page);
  await page.locator('#admin-link').click();
  await page.waitForURL((url) => url.pathname === '/admin/credits');
  await hydrated(page);
  // Other journeys buy at the same time: the figures include at least bob's $10.00.
  await expect(page.locator('#figures [data-figure="revenue"] [data-role="current"]')).toHaveText(/^\$[\d,]+\.\d\d$/);
  await expect(page.locator('#revenue-chart rect[data-value]').first()).toBeAttached();

  await page.locator('#filters select[name="status"]').selectOption('completed');
  await page.locator('#filters select[name="package"]').selectOption('starter');
  await page.locator('#filters input[name="user"]').fill(bob.email);
  await page.locator('#apply-filters').click();
  await page.waitForURL((url) => url.searchParams.get('status') === 'completed' && url.searchParams.get('package') === 'starter' && url.searchParams.get('user') === bob.email);
  await hydrated(page);
  const rows = page.locator('#purchases tbody tr');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText(bob.email);
  await expect(rows.first().locator('[data-status]')).toHaveAttribute('data-status', 'completed');

  // The CSV holds exactly the filtered rows.
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#export-csv').click()]);
  const csv = await (await download.createReadStream()).toArray();
  const lines = Buffer.concat(csv).toString('utf8').trim().split(/\r?\n/);
  expect(lines).toHaveLength(2);
  expect(lines[1]).toContain(bob.email);
  expect(lines[1]).toContain('completed');

  await rows.first().locator('[data-role="open"]').click();
  await page.waitForURL((url) => url.pathname.startsWith('/admin/credits/purchases/'));
  await expect(page.locator('#purchase-status [data-status]')).toHaveAttribute('data-status', 'completed');
  await expect(page.locator('#ledger tbody tr')).toHaveCount(1);
  await expect(page.locator('#audit li').first()).toBeVisible();
  // The buyer's Keycloak sync (the test command configures the dev provider's service account).
  await expect(page.locator('[data-sync="keycloak"]')).toBeVisible();

  // The sync page: its summary, and no reconcile yet (other journeys may
  // have jobs waiting at this moment).
  await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Sync' }).click();
  await page.waitForURL((url) => url.pathname === '/admin/credits/sync');
  await hydrated(page);
  await expect(page.locator('#sync-summary')).toHaveText(/^0 failed, \d+ retrying, \d+ waiting$/);
  await expect(page.locator('#retry-all-failed')).toBeDisabled();
  await expect(page.locator('#last-reconcile')).toContainText('No reconcile has run yet.');

});
