import { buyStarter, expect, hydrated, logIn, logInAsNewUser, logOut, test } from './support';

// What an admin does to a purchase and to the catalogue, and what the buyer
// sees of it.

test('an admin refunds part of a purchase and adjusts the buyer’s credits', async ({ page }) => {
  const buyer = await logInAsNewUser(page, 'Carol');
  await buyStarter(page);
  await expect(page.locator('#balance')).toHaveText('1,000');
  await logOut(page);

  await logIn(page, 'admin', 'admin-password');
  await page.goto(`/admin/credits?user=${encodeURIComponent(buyer.email)}`);
  await hydrated(page);
  await expect(page.locator('#purchases tbody tr')).toHaveCount(1);
  await page.locator('#purchases tbody tr [data-role="open"]').click();
  await page.waitForURL((url) => url.pathname.startsWith('/admin/credits/purchases/'));
  await hydrated(page);

  // $4.00 of the $10.00 back: 400 of the 1,000 credits go with it.
  await page.locator('#refund-form input[name="amount"]').fill('4.00');
  const refund = page.locator('#refund-form button[type="submit"]');
  await refund.click();
  await expect(page.locator('#refund-result')).toHaveAttribute('data-ok', 'true');

  await page.locator('#adjust-form input[name="amount"]').fill('250');
  await page.locator('#adjust-form input[name="reason"]').fill('Goodwill for a slow start');
  await page.locator('#adjust-form button[type="submit"]').click();
  await expect(page.locator('#adjust-result')).toHaveAttribute('data-ok', 'true');

  await expect
    .poll(async () => {
      await page.reload();
      await hydrated(page);
      return page.locator('#purchase-status [data-status]').getAttribute('data-status');
    })
    .toBe('partially_refunded');
  await logOut(page);

  await logIn(page, buyer.username, buyer.password);
  await expect
    .poll(async () => {
      await page.goto('/credits');
      await hydrated(page);
      return page.locator('#balance').textContent();
    })
    .toBe('850');
  await expect(page.locator('#history tbody tr').first().locator('[data-status]')).toHaveAttribute('data-status', 'partially_refunded');
});

test('an admin adds a package to the catalogue, inactive, then renames it', async ({ page }) => {
  await logIn(page, 'admin', 'admin-password');
  await page.goto('/admin/credits/packages');
  await hydrated(page);
  const code = `e2e-${Date.now().toString(36)}-${test.info().project.name}`;
  const form = page.locator('#new-package');
  await form.locator('input[name="package_code"]').fill(code);
  await form.locator('input[name="package_name"]').fill('Trial Pack');
  await form.locator('input[name="credits"]').fill('100');
  await form.locator('input[name="price"]').fill('1.00');
  // Inactive: nobody can buy it while it is being prepared.
  await form.locator('input[name="is_active"]').uncheck();
  await form.locator('button[type="submit"]').click();
  await expect(form.locator('[data-ok]')).toHaveAttribute('data-ok', 'true');

  await page.reload();
  await hydrated(page);
  const editor = page.locator(`#package-list [data-package="${code}"]`);
  await expect(editor).toContainText('inactive');
  await editor.locator('input[name="package_name"]').fill('Trial Pack (renamed)');
  await editor.locator('button[type="submit"]').filter({ hasText: 'Save' }).click();
  await expect(editor.locator('[data-ok]')).toHaveAttribute('data-ok', 'true');
  await page.reload();
  await hydrated(page);
  await expect(page.locator(`#package-list [data-package="${code}"] h2`)).toContainText('Trial Pack (renamed)');

  // Not on sale: the public page does not offer it.
  await page.goto('/');
  await hydrated(page);
  await expect(page.locator(`#packages [data-package="${code}"]`)).toHaveCount(0);
});
