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

/** Starts Checkout for a pack from the credits page and waits for the pay page. */
export async function startCheckout(page: Page, packageCode: string) {
  await page.locator(`[data-package="${packageCode}"] [data-role="buy"]`).click();
  await page.waitForURL((url) => url.pathname.startsWith('/c/pay/'));
  await expect(page.locator('#submit')).toBeVisible();
}

/**
 * Fills and submits the emulator's (Stripe-shaped) pay page. The e-mail is
 * the Stripe customer's, shown read-only, as on Stripe's page.
 */
export async function payWith(page: Page, card: string) {
  const email = page.locator('#email');
  await expect(email).toBeVisible();
  if (await email.isEditable()) await email.fill('buyer@example.com');
  await page.locator('#cardNumber').fill(card);
  await page.locator('#cardExpiry').fill('12 / 34');
  await page.locator('#cardCvc').fill('123');
  await page.locator('#billingName').fill('Test Buyer');
  await page.locator('#submit').click();
}

export async function logOut(page: Page) {
  await page.locator('#logout').click();
  await page.waitForURL((url) => url.pathname === '/' && !url.href.includes('/realms/'));
}
