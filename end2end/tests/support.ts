import { expect, type Page } from '@playwright/test';

/** Waits until the wasm has hydrated the page, so clicks reach live handlers. */
export async function hydrated(page: Page) {
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
}

/**
 * Logs in through the identity provider's page (Keycloak's element ids, so
 * this runs unchanged against a real Keycloak with the same users).
 */
export async function logIn(page: Page, username: string, password: string) {
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
