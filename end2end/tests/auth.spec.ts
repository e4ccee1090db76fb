import { expect, test } from '@playwright/test';

import { hydrated, logIn } from './support';

test('a user logs in through the provider, stays logged in, and logs out everywhere', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));

  await logIn(page, 'alice', 'alice-password');
  await expect(page.locator('#user-name')).toHaveText('Alice Anderson');
  await expect(page.locator('#login')).toHaveCount(0);
  await expect(page.locator('#admin-link')).toHaveCount(0);

  await page.reload();
  await hydrated(page);
  await expect(page.locator('#user-name')).toHaveText('Alice Anderson');

  await page.locator('#logout').click();
  await page.waitForURL((url) => url.pathname === '/' && !url.href.includes('/realms/'));
  await hydrated(page);
  await expect(page.locator('#login')).toBeVisible();
  await expect(page.locator('#user-name')).toHaveCount(0);

  // Logged out at the provider too: logging in again asks for the password.
  await page.goto('/auth/login');
  await expect(page.locator('#kc-form-login')).toBeVisible();
  await expect(page.locator('#username')).toBeVisible();

  expect(errors).toEqual([]);
});

test('an admin sees the admin link', async ({ page }) => {
  await logIn(page, 'admin', 'admin-password');
  await expect(page.locator('#user-name')).toHaveText('Ada Admin');
  await expect(page.locator('#admin-link')).toBeVisible();
  await expect(page.locator('#admin-link')).toHaveAttribute('href', '/admin/credits');
});
