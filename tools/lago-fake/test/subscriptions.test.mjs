import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';

import { startServer, customer, plan, subscription } from './helpers.mjs';

let lago;
before(async () => { lago = await startServer(); });
after(() => lago.stop());
beforeEach(() => lago.reset());

// Every test here speaks the contract, so the fake must have recorded nothing.
async function assertNoViolations() {
  assert.deepEqual(await lago.violations(), []);
}

async function seed() {
  assert.equal((await lago.call('POST', '/customers', customer('user-1'))).status, 200);
  assert.equal((await lago.call('POST', '/plans', plan('starter_monthly', 1900))).status, 200);
  assert.equal((await lago.call('POST', '/plans', plan('professional_monthly', 4900))).status, 200);
}

test('customers: create, then the same external_id updates; GET finds it; unknown is 404', async () => {
  const first = await lago.call('POST', '/customers', customer('user-1'));
  assert.equal(first.status, 200);
  const c = first.body.customer;
  assert.equal(c.external_id, 'user-1');
  assert.equal(c.email, 'alice@example.com');
  assert.match(c.lago_id, /^[0-9a-f-]{36}$/);
  assert.equal(c.applicable_timezone, 'UTC');

  const second = await lago.call('POST', '/customers', customer('user-1', { name: 'Alice A.', timezone: 'Europe/Paris' }));
  assert.equal(second.status, 200);
  assert.equal(second.body.customer.lago_id, c.lago_id, 'same customer, updated');
  assert.equal(second.body.customer.name, 'Alice A.');
  assert.equal(second.body.customer.applicable_timezone, 'Europe/Paris');

  const got = await lago.call('GET', '/customers/user-1');
  assert.equal(got.status, 200);
  assert.equal(got.body.customer.name, 'Alice A.');
  assert.deepEqual(await lago.call('GET', '/customers/nobody'), {
    status: 404, body: { status: 404, error: 'Not Found', code: 'customer_not_found' },
  });
  assert.equal((await lago.state()).customers.length, 1);
  await assertNoViolations();
});

test('plans: create, duplicate code is 422 value_already_exist, update, get, list', async () => {
  const created = await lago.call('POST', '/plans', plan('starter_monthly', 1900));
  assert.equal(created.status, 200);
  assert.equal(created.body.plan.code, 'starter_monthly');
  assert.equal(created.body.plan.amount_cents, 1900);

  assert.deepEqual(await lago.call('POST', '/plans', plan('starter_monthly', 100)), {
    status: 422,
    body: {
      status: 422, error: 'Unprocessable Entity', code: 'validation_errors', error_details: { code: ['value_already_exist'] },
    },
  });

  const updated = await lago.call('PUT', '/plans/starter_monthly', { plan: { name: 'Starter', amount_cents: 2000 } });
  assert.equal(updated.status, 200);
  assert.equal(updated.body.plan.name, 'Starter');
  assert.equal(updated.body.plan.amount_cents, 2000);
  assert.equal((await lago.call('GET', '/plans/starter_monthly')).body.plan.amount_cents, 2000);
  assert.equal((await lago.call('PUT', '/plans/nope', { plan: { name: 'x' } })).body.code, 'plan_not_found');
  assert.equal((await lago.call('GET', '/plans/nope')).status, 404);

  await lago.call('POST', '/plans', plan('starter_yearly', 19000, { interval: 'yearly' }));
  const list = await lago.call('GET', '/plans', undefined, { query: 'page=1&per_page=1' });
  assert.equal(list.status, 200);
  assert.equal(list.body.plans.length, 1);
  assert.deepEqual(list.body.meta, { current_page: 1, next_page: 2, prev_page: null, total_pages: 2, total_count: 2 });
  await assertNoViolations();
});

test('subscriptions: create, same plan again is unchanged, plan change keeps history, terminate, second terminate 404', async () => {
  await seed();
  const created = await lago.call('POST', '/subscriptions', subscription('sub-1', 'user-1', 'starter_monthly'));
  assert.equal(created.status, 200);
  const s = created.body.subscription;
  assert.equal(s.status, 'active');
  assert.equal(s.plan_code, 'starter_monthly');
  assert.equal(s.external_customer_id, 'user-1');
  assert.equal(s.previous_plan_code, null);
  assert.equal(s.plan.code, 'starter_monthly');
  assert.ok(s.current_billing_period_started_at <= s.started_at);
  assert.ok(s.current_billing_period_ending_at > s.started_at);

  const again = await lago.call('POST', '/subscriptions', subscription('sub-1', 'user-1', 'starter_monthly'));
  assert.equal(again.status, 200);
  assert.equal(again.body.subscription.lago_id, s.lago_id, 'same plan again: unchanged');

  const upgraded = await lago.call('POST', '/subscriptions', subscription('sub-1', 'user-1', 'professional_monthly'));
  assert.equal(upgraded.status, 200);
  assert.equal(upgraded.body.subscription.plan_code, 'professional_monthly');
  assert.equal(upgraded.body.subscription.previous_plan_code, 'starter_monthly');
  assert.equal(upgraded.body.subscription.status, 'active');

  const current = await lago.call('GET', '/subscriptions/sub-1');
  assert.equal(current.body.subscription.plan_code, 'professional_monthly');

  const downgraded = await lago.call('POST', '/subscriptions', subscription('sub-1', 'user-1', 'starter_monthly'));
  assert.equal(downgraded.body.subscription.plan_code, 'starter_monthly');
  assert.equal(downgraded.body.subscription.previous_plan_code, 'professional_monthly');

  const state = await lago.state();
  const history = state.subscription_events.filter((e) => e.external_id === 'sub-1');
  assert.deepEqual(history.map((e) => [e.event, e.plan_code]), [
    ['created', 'starter_monthly'],
    ['plan_changed', 'professional_monthly'],
    ['plan_changed', 'starter_monthly'],
  ]);
  assert.deepEqual(history.slice(1).map((e) => e.direction), ['upgrade', 'downgrade']);
  const active = state.subscriptions.filter((x) => x.status === 'active');
  assert.equal(active.length, 1);
  assert.deepEqual(active[0].plan_history, ['starter_monthly', 'professional_monthly', 'starter_monthly']);

  const terminated = await lago.call('DELETE', '/subscriptions/sub-1');
  assert.equal(terminated.status, 200);
  assert.equal(terminated.body.subscription.status, 'terminated');
  assert.ok(terminated.body.subscription.terminated_at);

  assert.deepEqual(await lago.call('DELETE', '/subscriptions/sub-1'), {
    status: 404, body: { status: 404, error: 'Not Found', code: 'subscription_not_found' },
  });
  assert.equal((await lago.call('DELETE', '/subscriptions/never')).status, 404);
  assert.equal((await lago.call('GET', '/subscriptions/sub-1')).status, 404, 'only active ones by default');
  const old = await lago.call('GET', '/subscriptions/sub-1', undefined, { query: 'status=terminated' });
  assert.equal(old.body.subscription.status, 'terminated');
  await assertNoViolations();
});

test('subscriptions: list filters by customer and status[] (active only by default)', async () => {
  await seed();
  await lago.call('POST', '/customers', customer('user-2'));
  await lago.call('POST', '/subscriptions', subscription('sub-1', 'user-1', 'starter_monthly'));
  await lago.call('POST', '/subscriptions', subscription('sub-2', 'user-2', 'starter_monthly'));
  await lago.call('POST', '/subscriptions', subscription('sub-3', 'user-1', 'professional_monthly'));
  await lago.call('DELETE', '/subscriptions/sub-3');

  const mine = await lago.call('GET', '/subscriptions', undefined, { query: 'external_customer_id=user-1' });
  assert.equal(mine.status, 200);
  assert.deepEqual(mine.body.subscriptions.map((x) => x.external_id), ['sub-1']);
  const all = await lago.call('GET', '/subscriptions', undefined, {
    query: 'external_customer_id=user-1&status[]=active&status[]=terminated',
  });
  assert.deepEqual(all.body.subscriptions.map((x) => [x.external_id, x.status]), [['sub-3', 'terminated'], ['sub-1', 'active']]);
  assert.equal(all.body.meta.total_count, 2);
  const everyone = await lago.call('GET', '/subscriptions');
  assert.equal(everyone.body.subscriptions.length, 2);
  await assertNoViolations();
});

test('subscriptions: unknown customer or plan is 404; a future date makes it pending; pending is cancelled with status=pending', async () => {
  await seed();
  assert.deepEqual((await lago.call('POST', '/subscriptions', subscription('s', 'nobody', 'starter_monthly'))).body,
    { status: 404, error: 'Not Found', code: 'customer_not_found' });
  assert.deepEqual((await lago.call('POST', '/subscriptions', subscription('s', 'user-1', 'nope'))).body,
    { status: 404, error: 'Not Found', code: 'plan_not_found' });
  assert.equal((await lago.state()).subscriptions.length, 0);

  const later = await lago.call('POST', '/subscriptions', subscription('s-later', 'user-1', 'starter_monthly', { subscription_at: '2099-01-01T00:00:00Z' }));
  assert.equal(later.body.subscription.status, 'pending');
  assert.equal((await lago.call('DELETE', '/subscriptions/s-later')).status, 404, 'no active one');
  const canceled = await lago.call('DELETE', '/subscriptions/s-later', undefined, { query: 'status=pending' });
  assert.equal(canceled.body.subscription.status, 'canceled');
  await assertNoViolations();
});

test('subscriptions: an external_id active for another customer is 422', async () => {
  await seed();
  await lago.call('POST', '/customers', customer('user-2'));
  await lago.call('POST', '/subscriptions', subscription('sub-1', 'user-1', 'starter_monthly'));
  const r = await lago.call('POST', '/subscriptions', subscription('sub-1', 'user-2', 'professional_monthly'));
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.error_details, { external_id: ['value_already_exist'] });
  await assertNoViolations();
});
