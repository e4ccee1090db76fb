import { test as base, expect, type Page } from '@playwright/test';

/**
 * Every browser test fails on a page error (a panic, a hydration mismatch),
 * a console error or warning, or a request that failed or answered 4xx/5xx.
 * A page the test navigates to on purpose may answer 4xx (the test checks
 * its status), and so may requests a test declares with `problems.allow`.
 */
export const test = base.extend<{ problems: { allow: (pattern: RegExp) => void } }>({
  problems: [
    async ({ page, baseURL }, use) => {
      const seen: string[] = [];
      const allowed: RegExp[] = [];
      const documents = new Set<string>();
      // Ours only: the identity provider's and Stripe's pages are theirs.
      const app = new URL(baseURL ?? 'http://127.0.0.1:3000').origin;
      const ours = (url: string) => {
        try {
          return new URL(url).origin === app;
        } catch {
          return false;
        }
      };
      const report = (problem: string) => {
        if (!allowed.some((pattern) => pattern.test(problem))) seen.push(problem);
      };
      page.on('pageerror', (error) => {
        if (ours(page.url())) report(`page error: ${error.message}`);
      });
      page.on('response', (response) => {
        if (response.status() < 400 || !ours(response.url())) return;
        if (response.request().resourceType() === 'document') {
          documents.add(response.url());
        } else {
          report(`${response.status()} from ${response.request().method()} ${response.url()}`);
        }
      });
      page.on('requestfailed', (request) => {
        const failure = request.failure()?.errorText ?? 'failed';
        // A navigation cancels what the page was still loading.
        if (failure !== 'net::ERR_ABORTED' && ours(request.url())) {
          report(`${failure}: ${request.method()} ${request.url()}`);
        }
      });
      page.on('console', (message) => {
        if (message.type() !== 'error' && message.type() !== 'warning') return;
        const where = message.location().url || page.url();
        if (!ours(where)) return;
        // The browser's own note about a 4xx page the test opened on purpose.
        if (message.text().startsWith('Failed to load resource') && documents.has(where)) return;
        // Chromium's timing hint for a preloaded wasm chunk of a lazy route
        // that the hydration had not used yet "a few seconds" after the load
        // event: on a loaded 2-core machine hydration can start later than
        // that. A chunk that fails to load or run still fails the test.
        if (
          message.type() === 'warning' &&
          /^The resource \S+\.wasm was preloaded using link preload but not used within a few seconds/.test(
            message.text(),
          )
        )
          return;
        report(`console ${message.type()}: ${message.text()} (${where})`);
      });
      await use({ allow: (pattern) => allowed.push(pattern) });
      expect(seen, 'console errors, page errors or failed requests').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

const ISSUER = process.env.OIDC_ISSUER_URL ?? 'http://127.0.0.1:8180/realms/ops-center';
const ADMIN_CLIENT = process.env.KEYCLOAK_ADMIN_CLIENT_ID ?? 'ops-center-credits-sync';
const ADMIN_SECRET = process.env.KEYCLOAK_ADMIN_CLIENT_SECRET ?? 'dev-only-sync-secret';

export type User = { username: string; password: string; email: string; name: string };

let created = 0;

/**
 * A new user of the identity provider, for one test: created through
 * Keycloak's Admin REST API (POST /admin/realms/REALM/users) with the sync
 * service account, so journeys never share state and run in parallel, on a
 * real Keycloak as on the dev provider.
 */
export async function newUser(firstName: string): Promise<User> {
  const token = await fetch(`${ISSUER}/protocol/openid-connect/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${ADMIN_CLIENT}:${ADMIN_SECRET}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  expect(token.status, 'admin token').toBe(200);
  const { access_token } = (await token.json()) as { access_token: string };
  const username = `${firstName.toLowerCase()}-${Date.now().toString(36)}-${process.pid}-${created++}`;
  const user = { username, password: `${username}-password`, email: `${username}@example.com`, name: `${firstName} Tester` };
  // …/realms/NAME → …/admin/realms/NAME (also under Keycloak's old /auth prefix).
  const users = `${ISSUER.replace(/\/realms\/([^/]+)\/?$/, '/admin/realms/$1')}/users`;
  const response = await fetch(users, {
    method: 'POST',
    headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      username,
      email: user.email,
      firstName,
      lastName: 'Tester',
      enabled: true,
      emailVerified: true,
      credentials: [{ type: 'password', value: user.password, temporary: false }],
    }),
  });
  expect(response.status, `creating ${username}`).toBe(201);
  return user;
}

/** A new user of its own for this test, logged in on `page`. */
export async function logInAsNewUser(page: Page, firstName: string): Promise<User> {
  const user = await newUser(firstName);
  await logIn(page, user.username, user.password);
  return user;
}

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

/** Buys a Starter Pack with a working card, from the credits page back to it. */
export async function buyStarter(page: Page) {
  await page.goto('/credits');
  await hydrated(page);
  await startCheckout(page, 'starter');
  await payWith(page, '4242 4242 4242 4242');
  await page.waitForURL((url) => url.pathname === '/credits' && url.searchParams.has('session_id'));
  await hydrated(page);
  await expect(page.locator('#checkout-banner')).toHaveAttribute('data-kind', 'success');
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

/** Opens the user menu in the header (name, Billing, Admin, Log out). */
export async function openUserMenu(page: Page) {
  const menu = page.locator('#user-menu');
  if ((await menu.getAttribute('open')) === null) await menu.locator('summary').click();
  await expect(page.locator('#logout')).toBeVisible();
}

export async function logOut(page: Page) {
  await openUserMenu(page);
  await page.locator('#logout').click();
  await page.waitForURL((url) => url.pathname === '/' && !url.href.includes('/realms/'));
}
