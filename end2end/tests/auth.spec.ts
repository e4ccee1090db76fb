import { expect, type Page, test } from '@playwright/test';

// Logging in through the dev identity provider's page (Keycloak's element
// ids, so this runs unchanged against a real Keycloak with the same users).

async function hydrated(page: Page) {
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
}

async function logIn(page: Page, username: string, password: string) {
  await page.goto('/');
  await hydrated(page);
  await page.locator('#login').click();
  await expect(page.locator('#kc-form-login')).toBeVisible();
  await page.locator('#username').fill(username);
  await page.locator('#password').fill(password);
  await page.locator('#kc-login').click();
  await page.waitForURL((url) => url.pathname === '/' && !url.href.includes('/realms/'));
  await hydrated(page);
}

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
