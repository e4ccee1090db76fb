import { expect, hydrated, logIn, logInAsNewUser, logOut, test } from './support';

// The wallet: an admin gives bob promotional credits that expire, the model
// gateway (a service with its own client credentials) spends some, and bob
// sees the breakdown and every movement in his activity, with a CSV export.

const ISSUER = process.env.OIDC_ISSUER_URL ?? 'http://127.0.0.1:8180/realms/ops-center';

test('promotional credits are granted by an admin, spent by a service and shown in the activity', async ({ page, request }) => {
  const bob = await logInAsNewUser(page, 'Bob');
  const me = await (await page.request.get('/api/v1/billing/credits/balance')).json();
  const before = me.granted as number;
  await logOut(page);

  await logIn(page, 'admin', 'admin-password');
  await page.goto('/admin/credits/wallets');
  await hydrated(page);
  await page.locator('#wallet-search').fill(bob.email);
  await page.locator('form[role="search"] button[type="submit"]').click();
  await page.waitForURL((url) => url.searchParams.get('user') === bob.email);
  await hydrated(page);
  await expect(page.locator('#wallet-heading')).toContainText(bob.email);
  const form = page.locator('#user-promotion-form');
  await form.locator('input[name="amount"]').fill('1500');
  await form.locator('input[name="reason"]').fill('Welcome bonus');
  const expiry = new Date(Date.now() + 10 * 86_400_000).toISOString().slice(0, 10);
  await form.locator('input[name="expires_on"]').fill(expiry);
  await form.locator('button[type="submit"]').click();
  await expect(page.locator('#promotion-result')).toContainText('Granted 1,500 promotional credits');
  await expect(page.locator('#wallet-granted')).toHaveText((before + 1500).toLocaleString('en-US'));
  await logOut(page);

  // The model gateway spends 200 of bob's credits: the expiring ones go first.
  const basic = Buffer.from('ops-center-model-gateway:dev-only-gateway-secret').toString('base64');
  const token = await request.post(`${ISSUER}/protocol/openid-connect/token`, {
    headers: { Authorization: `Basic ${basic}` },
    form: { grant_type: 'client_credentials' },
  });
  expect(token.status()).toBe(200);
  const spend = await request.post('/api/v1/billing/credits/spend', {
    headers: { Authorization: `Bearer ${(await token.json()).access_token}`, 'Idempotency-Key': `e2e-${Date.now()}` },
    data: { user_id: me.user_id, amount: 200, description: 'Chat completion', metadata: { service: 'model-gateway', model: 'gpt-x' } },
  });
  expect(spend.status()).toBe(201);
  expect((await spend.json()).funded_by[0].kind).toBe('promotional');

  await logIn(page, bob.username, bob.password);
  await page.goto('/credits');
  await hydrated(page);
  await expect(page.locator('#balance-granted')).toHaveText((before + 1300).toLocaleString('en-US'));
  await expect(page.locator('#balance-expiring')).toContainText('1,300 promotional');
  await page.locator('#tab-activity').click();
  await page.waitForURL((url) => url.searchParams.get('tab') === 'activity');
  await hydrated(page);
  const items = page.locator('#activity li');
  await expect(items.first()).toHaveAttribute('data-kind', 'debit');
  await expect(items.first()).toContainText('Chat completion');
  await expect(items.first()).toContainText('model-gateway · gpt-x');
  await expect(items.first()).toContainText('-200');
  await expect(items.nth(1)).toHaveAttribute('data-kind', 'grant');
  await expect(items.nth(1)).toContainText('Promotional credits');

  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#activity-export').click()]);
  const csv = Buffer.concat(await (await download.createReadStream()).toArray()).toString('utf8');
  const lines = csv.trim().split(/\r?\n/);
  expect(lines[0]).toBe('id,created_at,kind,source,amount,balance_after,description,service,model,hold_status');
  expect(lines[1]).toContain(',debit,usage,-200,');
  expect(lines[1]).toContain('gpt-x');
});
