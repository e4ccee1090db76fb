import { expect, hydrated, logInAsNewUser, payWith, startCheckout, test } from './support';

// Buying credits through the Stripe emulator's hosted Checkout page (its
// element ids follow Stripe's: #cardNumber, #submit, …).

test('a user buys the Starter Pack, then gives up after a declined card', async ({ page }) => {
  await logInAsNewUser(page, 'Alice');
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

});

test('anonymous visitors are sent to log in from /credits', async ({ page }) => {
  await page.goto('/credits');
  await expect(page.locator('#kc-form-login')).toBeVisible();
});

test('a payment that clears later: processing first, then the credits', async ({ page, request }) => {
  await logInAsNewUser(page, 'Dana');
  await page.goto('/credits');
  await hydrated(page);
  await startCheckout(page, 'starter');
  const stripe = new URL(page.url()).origin;
  // A card whose payment Stripe confirms later (a bank debit's shape).
  await payWith(page, '4000 0000 0000 0077');
  await page.waitForURL((url) => url.pathname === '/credits' && url.searchParams.has('session_id'));
  await hydrated(page);
  await expect(page.locator('#checkout-banner')).toHaveAttribute('data-kind', 'processing');
  await expect(page.locator('#balance')).toHaveText('0');
  await expect(page.locator('#history tbody tr').first().locator('[data-status]')).toHaveAttribute('data-status', 'pending');

  // The bank says yes (the emulator's control, as Stripe's own test clock would).
  const session = new URL(page.url()).searchParams.get('session_id');
  const settled = await request.post(`${stripe}/_emulator/checkout/sessions/${session}/settle`, { data: { outcome: 'succeeded' } });
  expect(settled.ok()).toBeTruthy();
  await expect
    .poll(async () => {
      await page.reload();
      await hydrated(page);
      return page.locator('#balance').textContent();
    })
    .toBe('1,000');
  await expect(page.locator('#checkout-banner')).toHaveAttribute('data-kind', 'success');
});

test('an expired session: the page says so and logging in again comes back to it', async ({ page, context, problems }) => {
  // The refused call itself (401) is what this test is about.
  problems.allow(/buy_credits/);
  const erin = await logInAsNewUser(page, 'Erin');
  await page.goto('/credits?page=1');
  await hydrated(page);
  // The server forgets the session (as when it expires): the cookie is gone.
  await context.clearCookies();
  await page.locator('[data-package="starter"] [data-role="buy"]').click();
  const notice = page.locator('[data-role="buy-error"] [data-error="not_authenticated"]');
  await expect(notice).toContainText('Your session has expired');
  await notice.getByRole('link', { name: 'Log in again' }).click();
  await expect(page.locator('#kc-form-login')).toBeVisible();
  await page.locator('#username').fill(erin.username);
  await page.locator('#password').fill(erin.password);
  await page.locator('#kc-login').click();
  await page.waitForURL((url) => url.pathname === '/credits' && url.searchParams.get('page') === '1');
  await hydrated(page);
  await expect(page.locator('#user-name')).toHaveText(erin.name);
});
