import type { Page } from '@playwright/test';

import { expect, newUser, payWith, test, type User } from './support';

// Before the wasm arrives (or without JavaScript at all) the main journeys
// still work: every form posts to the server and follows its redirect.
test.use({ javaScriptEnabled: false });

// The browser refuses the page's script (JavaScript is off): expected here.
test.beforeEach(({ problems }) => problems.allow(/^csp: GET .*\/pkg\//));

/** Logs in through the provider's form straight to `next` (no hydration to wait for). */
async function logInTo(page: Page, user: User, next: string) {
  await page.goto(`/auth/login?next=${next}`);
  await page.locator('#username').fill(user.username);
  await page.locator('#password').fill(user.password);
  await page.locator('#kc-login').click();
  await page.waitForURL((url) => url.pathname === next);
}

test('without JavaScript: log in, open the menu, buy through Checkout, pick a theme, log out', async ({ page }) => {
  const bob = await newUser('Bob');
  await logInTo(page, bob, '/credits');
  await expect(page.locator('#user-name')).toHaveText(bob.name);

  // Buy is a form: the server answers with a redirect to Stripe Checkout.
  await page.locator('[data-package="starter"] [data-role="buy"]').click();
  await page.waitForURL((url) => url.pathname.startsWith('/c/pay/'));
  await page.goBack();
  await page.waitForURL((url) => url.pathname === '/credits');

  // The theme switch, back on the same page.
  await page.locator('[data-theme-option="dark"]').click();
  await page.waitForURL((url) => url.pathname === '/credits');
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await expect(page.locator('[data-theme-option="dark"]')).toHaveAttribute('aria-pressed', 'true');

  // The user menu is a <details>: it opens without a script.
  await page.locator('#user-menu summary').click();
  await expect(page.locator('#logout')).toBeVisible();
  await page.locator('#logout').click();
  await page.waitForURL((url) => url.pathname === '/' && !url.href.includes('/realms/'));
  await expect(page.locator('#login')).toBeVisible();
});

test('without JavaScript: subscribe through Checkout, cancel at period end, resume', async ({ page }) => {
  const carol = await newUser('Carol');
  await logInTo(page, carol, '/billing/plans');

  // Subscribe is a form: monthly, straight to Checkout.
  await page.locator('[data-tier="starter"] [data-role="choose"]').click();
  await page.waitForURL((url) => url.pathname.startsWith('/c/pay/'));
  await payWith(page, '4242 4242 4242 4242');
  await page.waitForURL((url) => url.pathname === '/billing');
  await expect
    .poll(async () => {
      await page.goto('/billing');
      return page.locator('#plan-tier').count();
    })
    .toBe(1);
  await expect(page.locator('#plan-tier')).toHaveText('Starter');
  await expect(page.locator('#plan-cycle')).toHaveText('Monthly');

  // The confirm step is a <details>; the answer is a form.
  await page.locator('#cancel-plan').click();
  await expect(page.locator('#cancel-confirm')).toContainText('stays active until');
  await page.locator('#cancel-confirm-yes').click();
  await page.waitForURL((url) => url.pathname === '/billing');
  await expect(page.locator('#plan-ends')).toContainText('Ends on');

  await page.locator('#resume-plan').click();
  await page.waitForURL((url) => url.pathname === '/billing');
  await expect(page.locator('#plan-renews')).toContainText('Renews on');
});
