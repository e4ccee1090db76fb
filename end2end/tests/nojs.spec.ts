import { expect, newUser, payWith, test } from './support';

// Before the wasm arrives (or without JavaScript at all) the main journeys
// still work: every form posts to the server and follows its redirect.
test.use({ javaScriptEnabled: false });

test('without JavaScript: log in, open the menu, buy through Checkout, pick a theme, log out', async ({ page, problems }) => {
  // The browser refuses the page's script (JavaScript is off): expected here.
  problems.allow(/^csp: GET .*\/pkg\//);
  const bob = await newUser('Bob');
  await page.goto('/auth/login?next=/credits');
  await page.locator('#username').fill(bob.username);
  await page.locator('#password').fill(bob.password);
  await page.locator('#kc-login').click();
  await page.waitForURL((url) => url.pathname === '/credits');
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

test('without JavaScript: subscribe through Checkout, cancel at period end, resume', async ({ page, problems }) => {
  problems.allow(/^csp: GET .*\/pkg\//);
  const carol = await newUser('Carol');
  await page.goto('/auth/login?next=/billing/plans');
  await page.locator('#username').fill(carol.username);
  await page.locator('#password').fill(carol.password);
  await page.locator('#kc-login').click();
  await page.waitForURL((url) => url.pathname === '/billing/plans');

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
