import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';

import {
  startServer, customer, plan, subscription,
} from './helpers.mjs';

let lago;
before(async () => { lago = await startServer(); });
after(() => lago.stop());
beforeEach(() => lago.reset());

test('auth: no key or a wrong key is 401 in Lago\'s shape; controls need none', async () => {
  const none = await lago.call('GET', '/plans', undefined, { key: null });
  assert.deepEqual(none, { status: 401, body: { status: 401, error: 'Unauthorized' } });
  const wrong = await lago.call('POST', '/customers', customer('u'), { key: 'not-the-key' });
  assert.equal(wrong.status, 401);
  assert.equal((await lago.state()).customers.length, 0);
  const basic = await fetch(`${lago.url}/api/v1/plans`, { headers: { authorization: 'Basic ZGV2LWxhZ28ta2V5' } });
  assert.equal(basic.status, 401);
  assert.equal((await lago.call('GET', '/plans')).status, 200);
  assert.deepEqual(await lago.violations(), []);
});

test('requests are recorded with method, path, query, body and status, and can be cleared', async () => {
  await lago.call('POST', '/customers', customer('u'));
  await lago.call('GET', '/subscriptions', undefined, { query: 'external_customer_id=u&status[]=terminated&status[]=active' });
  const recorded = await lago.requests();
  assert.deepEqual(recorded, [
    { method: 'POST', path: '/api/v1/customers', query: {}, body: customer('u'), status: 200 },
    {
      method: 'GET', path: '/api/v1/subscriptions', query: { external_customer_id: 'u', 'status[]': ['terminated', 'active'] }, body: null, status: 200,
    },
  ]);
  assert.equal((await lago.control('DELETE', 'requests')).status, 204);
  assert.deepEqual(await lago.requests(), []);
});

test('faults: a counted fault answers N times then stops; method and path prefix select', async () => {
  await lago.call('POST', '/customers', customer('u'));
  await lago.call('POST', '/plans', plan('p', 100));
  const added = await lago.control('POST', 'faults', {
    method: 'POST', path_prefix: '/api/v1/subscriptions', status: 503, count: 2,
  });
  assert.equal(added.status, 201);

  assert.equal((await lago.call('GET', '/subscriptions')).status, 200, 'GET is not selected');
  const first = await lago.call('POST', '/subscriptions', subscription('s', 'u', 'p'));
  assert.deepEqual(first, { status: 503, body: { status: 503, error: 'Service Unavailable' } });
  assert.equal((await lago.call('POST', '/subscriptions', subscription('s', 'u', 'p'))).status, 503);
  assert.equal((await lago.call('POST', '/customers', customer('u'))).status, 200, 'other paths unaffected');
  assert.equal((await lago.call('POST', '/subscriptions', subscription('s', 'u', 'p'))).status, 200, 'count used up');
  assert.deepEqual((await lago.control('GET', 'faults')).body, []);
  assert.deepEqual((await lago.requests()).map((r) => r.status), [200, 200, 200, 503, 503, 200, 200]);
  assert.equal((await lago.state()).subscriptions.length, 1, 'a faulted request changes nothing');
});

test('faults: without count it lasts until cleared; "*" matches every method; a body can be given', async () => {
  await lago.control('POST', 'faults', { method: '*', path_prefix: '/api/v1/', status: 500 });
  await lago.control('POST', 'faults', { method: 'GET', path_prefix: '/api/v1/plans', status: 429, body: { status: 429, error: 'Too Many Requests' } });
  for (let i = 0; i < 3; i += 1) assert.equal((await lago.call('POST', '/customers', customer('u'))).status, 500);
  assert.equal((await lago.call('GET', '/plans')).status, 500, 'first matching fault wins');
  assert.equal((await lago.control('DELETE', 'faults')).status, 204);
  assert.equal((await lago.call('POST', '/customers', customer('u'))).status, 200);

  const bad = await lago.control('POST', 'faults', { path_prefix: 'api', status: 'x', count: 0 });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.details.length, 3);
});

test('reset clears state, requests, violations and faults', async () => {
  await lago.call('POST', '/customers', customer('u'));
  await lago.call('POST', '/customers', { nope: true });
  await lago.control('POST', 'faults', { path_prefix: '/api/v1/plans', status: 502 });
  assert.equal((await lago.reset()).status, 204);
  assert.deepEqual(await lago.state(), { customers: [], plans: [], subscriptions: [], subscription_events: [] });
  assert.deepEqual(await lago.requests(), []);
  assert.deepEqual(await lago.violations(), []);
  assert.equal((await lago.call('GET', '/plans')).status, 200);
  assert.equal((await lago.control('GET', 'nothing')).status, 404);
});
