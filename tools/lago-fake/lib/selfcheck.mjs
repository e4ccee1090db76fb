// Startup self-check: drive a throwaway fake through every kind of answer it
// gives (each operation, success and error) and return the answers that do
// not match the contract. The server refuses to start when there are any, so
// a fake that drifted from the contract cannot pass tests quietly.
import { LagoFake, BASE_PATH } from './fake.mjs';

const KEY = 'self-check-key';

export const SCENARIO = [
  ['POST', '/customers', { customer: { external_id: 'c1', name: 'Ada', email: 'ada@example.com', currency: 'USD', metadata: [{ key: 'k', value: 'v', display_in_invoice: false }] } }],
  ['POST', '/customers', { customer: { external_id: 'c1', name: 'Ada Lovelace', country: 'GB', timezone: 'Europe/London' } }],
  ['GET', '/customers/c1'],
  ['GET', '/customers/nobody'],
  ['POST', '/plans', { plan: { name: 'Starter', code: 'starter', interval: 'monthly', amount_cents: 1900, amount_currency: 'USD', pay_in_advance: true } }],
  ['POST', '/plans', { plan: { name: 'Pro', code: 'pro', interval: 'yearly', amount_cents: 49000, amount_currency: 'USD', pay_in_advance: false, trial_period: null, invoice_display_name: null, description: 'yearly', minimum_commitment: { amount_cents: 100 }, usage_thresholds: [{ amount_cents: 5000 }], metadata: { tier: 'pro' } } }],
  ['POST', '/plans', { plan: { name: 'Again', code: 'starter', interval: 'weekly', amount_cents: 1, amount_currency: 'USD', pay_in_advance: false } }],
  ['PUT', '/plans/starter', { plan: { name: 'Starter (2026)' } }],
  ['PUT', '/plans/nope', { plan: { name: 'x' } }],
  ['GET', '/plans/pro'],
  ['GET', '/plans/nope'],
  ['GET', '/plans', null, 'per_page=1&page=2'],
  ['POST', '/subscriptions', { subscription: { external_customer_id: 'c1', plan_code: 'starter', external_id: 's1', name: 'Starter' } }],
  ['POST', '/subscriptions', { subscription: { external_customer_id: 'c1', plan_code: 'starter', external_id: 's1' } }],
  ['POST', '/subscriptions', { subscription: { external_customer_id: 'c1', plan_code: 'pro', external_id: 's1', billing_time: 'anniversary' } }],
  ['POST', '/subscriptions', { subscription: { external_customer_id: 'c1', plan_code: 'pro', external_id: 's2', subscription_at: '2099-01-01T00:00:00Z' } }],
  ['POST', '/subscriptions', { subscription: { external_customer_id: 'nobody', plan_code: 'pro', external_id: 's3' } }],
  ['POST', '/subscriptions', { subscription: { external_customer_id: 'c1', plan_code: 'nope', external_id: 's3' } }],
  ['GET', '/subscriptions/s1'],
  ['GET', '/subscriptions/s2', null, 'status=pending'],
  ['GET', '/subscriptions', null, 'external_customer_id=c1&status[]=active&status[]=terminated&status[]=pending'],
  ['GET', '/subscriptions'],
  ['DELETE', '/subscriptions/s1'],
  ['DELETE', '/subscriptions/s1'],
  ['DELETE', '/subscriptions/s2', null, 'status=pending'],
  ['GET', '/subscriptions/s1', null, 'status=terminated'],
];

export function runSelfCheck(contract) {
  const fake = new LagoFake({ contract, apiKey: KEY });
  const problems = [];
  const run = (method, path, body, query = '', auth = `Bearer ${KEY}`) => {
    const r = fake.handle({
      method,
      path: `${BASE_PATH}${path}`,
      query: new URLSearchParams(query),
      headers: { authorization: auth, 'content-type': 'application/json' },
      rawBody: body ? JSON.stringify(body) : '',
    });
    if (r.status === 400) problems.push({ method, path, query, message: 'self-check request rejected', body: r.body });
  };
  for (const [method, path, body, query] of SCENARIO) run(method, path, body, query);
  run('GET', '/plans', null, '', 'Bearer wrong');
  problems.push(...fake.violations);
  return problems;
}
