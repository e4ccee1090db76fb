import { test } from 'node:test';
import assert from 'node:assert/strict';

import { billingPeriod, mirrorOnlyProblems } from '../lib/lago.mjs';

const at = new Date('2026-05-17T10:00:00Z');

test('calendar billing: periods on calendar boundaries', () => {
  assert.deepEqual(billingPeriod('monthly', 'calendar', '2026-02-10T08:00:00Z', at),
    { started_at: '2026-05-01T00:00:00Z', ending_at: '2026-05-31T23:59:59Z' });
  assert.deepEqual(billingPeriod('yearly', 'calendar', '2025-02-10T08:00:00Z', at),
    { started_at: '2026-01-01T00:00:00Z', ending_at: '2026-12-31T23:59:59Z' });
  assert.deepEqual(billingPeriod('quarterly', 'calendar', '2026-01-10T00:00:00Z', at),
    { started_at: '2026-04-01T00:00:00Z', ending_at: '2026-06-30T23:59:59Z' });
  assert.deepEqual(billingPeriod('weekly', 'calendar', '2026-01-10T00:00:00Z', at),
    { started_at: '2026-05-11T00:00:00Z', ending_at: '2026-05-17T23:59:59Z' }, 'Monday to Sunday');
});

test('anniversary billing: periods from the subscription date, month ends clamped', () => {
  assert.deepEqual(billingPeriod('monthly', 'anniversary', '2026-02-20T08:00:00Z', at),
    { started_at: '2026-04-20T08:00:00Z', ending_at: '2026-05-20T07:59:59Z' });
  assert.deepEqual(billingPeriod('monthly', 'anniversary', '2026-01-31T00:00:00Z', new Date('2026-03-01T00:00:00Z')),
    { started_at: '2026-02-28T00:00:00Z', ending_at: '2026-03-30T23:59:59Z' });
  assert.deepEqual(billingPeriod('yearly', 'anniversary', '2025-06-01T00:00:00Z', at),
    { started_at: '2025-06-01T00:00:00Z', ending_at: '2026-05-31T23:59:59Z' });
});

test('mirror-only rule: payment providers in any form are reported, other settings are not', () => {
  assert.deepEqual(mirrorOnlyProblems({ external_id: 'u' }), []);
  assert.deepEqual(mirrorOnlyProblems({ billing_configuration: { invoice_grace_period: 2 } }), []);
  assert.equal(mirrorOnlyProblems({ billing_configuration: { payment_provider: 'gocardless' } }).length, 1);
  assert.equal(mirrorOnlyProblems({ billing_configuration: { payment_provider_code: 'stripe-eu' } }).length, 1);
  assert.equal(mirrorOnlyProblems({ integration_customers: [{ integration_type: 'netsuite' }, { integration_type: 'stripe' }] }).length, 1);
});
