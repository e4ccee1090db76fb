import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';

import {
  startServer, sharedContract, customer, plan, subscription,
} from './helpers.mjs';
import { runSelfCheck } from '../lib/selfcheck.mjs';

let lago;
before(async () => { lago = await startServer(); });
after(() => lago.stop());
beforeEach(() => lago.reset());

test('a customer without the "customer" wrapper is a contract violation: 400, recorded, nothing stored', async () => {
  const r = await lago.call('POST', '/customers', { external_id: 'user-1', name: 'Alice' });
  assert.equal(r.status, 400);
  assert.equal(r.body.status, 400);
  assert.equal(r.body.error, 'contract_violation');
  assert.ok(r.body.details.some((d) => d.in === 'body' && d.params?.missingProperty === 'customer'), JSON.stringify(r.body.details));

  const violations = await lago.violations();
  assert.equal(violations.length, 1);
  assert.equal(violations[0].kind, 'request');
  assert.equal(violations[0].operation, 'createCustomer');
  assert.equal(violations[0].path, '/api/v1/customers');
  assert.equal((await lago.state()).customers.length, 0);
  const [req] = await lago.requests();
  assert.equal(req.status, 400);
  assert.deepEqual(req.body, { external_id: 'user-1', name: 'Alice' });
});

test('wrong types and enum values in bodies and queries are violations', async () => {
  const wrongType = await lago.call('POST', '/plans', plan('p', '1900'));
  assert.equal(wrongType.status, 400);
  assert.ok(wrongType.body.details.some((d) => d.path === '/plan/amount_cents' && d.keyword === 'type'));

  const badInterval = await lago.call('POST', '/plans', plan('p', 1900, { interval: 'daily' }));
  assert.equal(badInterval.status, 400);
  assert.ok(badInterval.body.details.some((d) => d.path === '/plan/interval' && d.keyword === 'enum'));

  const missing = await lago.call('POST', '/subscriptions', { subscription: { external_customer_id: 'u', plan_code: 'p' } });
  assert.equal(missing.status, 400);
  assert.ok(missing.body.details.some((d) => d.params?.missingProperty === 'external_id'));

  const badEmail = await lago.call('POST', '/customers', customer('u', { email: 'not an email' }));
  assert.equal(badEmail.status, 400);
  assert.ok(badEmail.body.details.some((d) => d.keyword === 'format'));

  const badStatus = await lago.call('GET', '/subscriptions', undefined, { query: 'status[]=active&status[]=finished' });
  assert.equal(badStatus.status, 400);
  assert.ok(badStatus.body.details.some((d) => d.in === 'query' && d.keyword === 'enum'));

  const badPage = await lago.call('GET', '/plans', undefined, { query: 'page=first' });
  assert.equal(badPage.status, 400);
  assert.ok(badPage.body.details.some((d) => d.in === 'query' && d.path === '/page'));

  const notJson = await lago.call('POST', '/customers', '{"customer":', {});
  assert.equal(notJson.status, 400);
  const noBody = await lago.call('POST', '/customers');
  assert.equal(noBody.status, 400);
  const formBody = await lago.call('POST', '/customers', 'customer[external_id]=u', { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(formBody.status, 400);

  const kinds = (await lago.violations()).map((v) => v.kind);
  assert.deepEqual(kinds, Array(9).fill('request'));
});

test('paths outside the contract and operations the fake lacks are recorded too', async () => {
  const unknown = await lago.call('GET', '/customer/user-1');
  assert.equal(unknown.status, 404);
  const wrongMethod = await lago.call('PATCH', '/plans/p', { plan: {} });
  assert.equal(wrongMethod.status, 405);
  const lacking = await lago.call('GET', '/wallets', undefined, { query: 'external_customer_id=u' });
  assert.equal(lacking.status, 501);
  const v = await lago.violations();
  assert.deepEqual(v.map((x) => x.kind), ['request', 'request', 'not_implemented']);
  assert.match(v[2].message, /findAllWallets/);
});

test('mirror-only rule: a customer given a payment provider is recorded, and answered as Lago would', async () => {
  const r = await lago.call('POST', '/customers', customer('user-1', {
    billing_configuration: { payment_provider: 'stripe', provider_customer_id: 'cus_123', sync_with_provider: true },
  }));
  assert.equal(r.status, 200);
  assert.equal(r.body.customer.billing_configuration.payment_provider, 'stripe');
  const [v] = await lago.violations();
  assert.equal(v.kind, 'mirror_only');
  assert.equal(v.external_id, 'user-1');
  assert.match(v.details[0], /payment_provider is "stripe"/);

  await lago.control('DELETE', 'violations');
  const ok = await lago.call('POST', '/customers', customer('user-2', {
    billing_configuration: { invoice_grace_period: 3, document_locale: 'en' },
    integration_customers: [{ integration_type: 'anrok', integration_code: 'anrok-1', external_customer_id: 'a-1' }],
  }));
  assert.equal(ok.status, 200);
  assert.deepEqual(await lago.violations(), [], 'non-payment settings are fine');

  // The contract lists no payment integration types, so this is both.
  const viaIntegration = await lago.call('POST', '/customers', customer('user-3', {
    integration_customers: [{ integration_type: 'stripe', external_customer_id: 'cus_1' }],
  }));
  assert.equal(viaIntegration.status, 400);
  assert.deepEqual((await lago.violations()).map((x) => x.kind).sort(), ['mirror_only', 'request']);
});

test('every kind of answer the fake gives validates against the contract (startup self-check)', async () => {
  const contract = await sharedContract();
  assert.deepEqual(runSelfCheck(contract), []);
});

test('an answer outside the contract would be caught (the response check is live)', async () => {
  const contract = await sharedContract();
  const { op } = contract.match('GET', '/subscriptions/x');
  const good = (await (async () => {
    await lago.call('POST', '/customers', customer('u'));
    await lago.call('POST', '/plans', plan('p', 100));
    return lago.call('POST', '/subscriptions', subscription('s', 'u', 'p'));
  })()).body;
  assert.deepEqual(contract.validateResponse(op, 200, good), []);
  const broken = structuredClone(good);
  broken.subscription.status = 'paused';
  delete broken.subscription.plan_code;
  const problems = contract.validateResponse(op, 200, broken);
  assert.ok(problems.some((p) => p.keyword === 'enum' && p.path === '/subscription/status'));
  assert.ok(problems.some((p) => p.params?.missingProperty === 'plan_code'));
  assert.match(contract.validateResponse(op, 409, {})[0].message, /not documented/);

  // and through the running fake: a handler bug shows up as a "response" violation
  const original = lago.fake.state.findPlan;
  lago.fake.state.findPlan = () => ({ status: 200, body: { plan: { code: 42 } } });
  try {
    await lago.call('GET', '/plans/p');
  } finally {
    lago.fake.state.findPlan = original;
  }
  const [v] = (await lago.violations()).filter((x) => x.kind === 'response');
  assert.equal(v.operation, 'findPlan');
  assert.equal(v.status, 200);
});

test('a crash inside the fake is answered 500 and recorded as fake_error', async () => {
  const original = lago.fake.state.findAllPlans;
  lago.fake.state.findAllPlans = () => { throw new Error('boom'); };
  try {
    assert.equal((await lago.call('GET', '/plans')).status, 500);
  } finally {
    lago.fake.state.findAllPlans = original;
  }
  const [v] = await lago.violations();
  assert.equal(v.kind, 'fake_error');
  assert.match(v.message, /boom/);
});
