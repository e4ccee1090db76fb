import { expect, hydrated, logIn, logInAsNewUser, openUserMenu, test } from './support';

test('a user logs in through the provider, stays logged in, and logs out everywhere', async ({ page }) => {
  const alice = await logInAsNewUser(page, 'Alice');
  await expect(page.locator('#user-name')).toHaveText(alice.name);
  await expect(page.locator('#login')).toHaveCount(0);
  await expect(page.locator('#admin-link')).toHaveCount(0);

  await page.reload();
  await hydrated(page);
  await expect(page.locator('#user-name')).toHaveText(alice.name);

  await openUserMenu(page);
  await page.locator('#logout').click();
  await page.waitForURL((url) => url.pathname === '/' && !url.href.includes('/realms/'));
  await hydrated(page);
  await expect(page.locator('#login')).toBeVisible();
  await expect(page.locator('#user-name')).toHaveCount(0);

  // Logged out at the provider too: logging in again asks for the password.
  await page.goto('/auth/login');
  await expect(page.locator('#kc-form-login')).toBeVisible();
  await expect(page.locator('#username')).toBeVisible();

});

test('an admin sees the admin link', async ({ page }) => {
  await logIn(page, 'admin', 'admin-password');
  await expect(page.locator('#user-name')).toHaveText('Ada Admin');
  await openUserMenu(page);
  await expect(page.locator('#admin-link')).toBeVisible();
  await expect(page.locator('#admin-link')).toHaveAttribute('href', '/admin/credits');
});
