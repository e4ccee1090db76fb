// The Keycloak Admin API users subset: the sync client's client_credentials
// token, authorization, search, GET/PUT semantics, creating users (POST), the
// user-profile rule, the test controls, and every admin answer checked
// against the official contract (contracts/keycloak-admin-users-subset.json,
// the repo's copy).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import Ajv from 'ajv';
import addFormats from 'ajv-formats';

import {
  startServer, tempDir, cleanup, tokenRequest, passwordGrant, verifyJwt, decodeJwt, loginThroughPage, USERS, SHIPPED_REALM,
} from './helpers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const CONTRACT_FILE = resolve(here, '..', '..', '..', 'contracts', 'keycloak-admin-users-subset.json');
const contract = JSON.parse(readFileSync(CONTRACT_FILE, 'utf8'));

const SYNC_CLIENT = 'ops-center-credits-sync';
const SYNC_SECRET = 'dev-only-sync-secret';
const SYNC_USER_ID = '5a9e3c1d-7b2f-4e8a-9d6c-1f0e2b3a4c63';

// Two validators over the contract's schemas: as published, and a strict
// copy where objects may not carry properties the contract does not name (so
// a misspelt field in a fake answer is caught too).
function strictCopy(schema) {
  if (Array.isArray(schema)) return schema.map(strictCopy);
  if (!schema || typeof schema !== 'object') return schema;
  const out = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, strictCopy(v)]));
  if (schema.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}
function validators(components) {
  const ajv = new Ajv({ allErrors: true, strict: true });
  addFormats(ajv);
  ajv.addKeyword('components'); // holds the schemas the $refs point into
  return (schema) => ajv.compile({ components, ...schema });
}
const compilers = [validators(contract.components), validators(strictCopy(contract.components))];
const compiled = new Map();
function validate(schema, value, what) {
  const key = JSON.stringify(schema);
  if (!compiled.has(key)) compiled.set(key, compilers.map((compile) => compile(schema)));
  for (const check of compiled.get(key)) {
    assert.ok(check(value), `${what} does not match the contract: ${JSON.stringify(check.errors)}\n${JSON.stringify(value)}`);
  }
}

// The contract's operation for a request path: the template with the fewest
// parameters wins (/users/count before /users/{user-id}).
function operation(method, path) {
  const candidates = Object.keys(contract.paths)
    .filter((template) => new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path))
    .sort((a, b) => a.split('{').length - b.split('{').length);
  return candidates.length ? contract.paths[candidates[0]][method.toLowerCase()] : undefined;
}

let checkedAgainstContract = 0;
function checkAgainstContract(method, path, status, text) {
  const op = operation(method, path);
  assert.ok(op, `${method} ${path} is not in the contract`);
  const declared = op.responses[String(status)];
  const schema = declared?.content?.['application/json']?.schema;
  if (status === 204 || (status >= 200 && status < 300 && declared && !declared.content)) {
    // 204, or e.g. 201 Created declared without content: no body
    assert.ok(declared, `${method} ${path}: ${status} not in the contract`);
    assert.equal(text, '', `${status} has no body`);
  } else if (status >= 200 && status < 300) {
    assert.ok(schema, `${method} ${path}: no schema for ${status} in the contract`);
    validate(schema, JSON.parse(text), `${method} ${path} → ${status}`);
  } else {
    // Keycloak's error bodies are JSON objects; the contract gives them no schema.
    assert.equal(typeof JSON.parse(text), 'object', `${method} ${path} → ${status}: ${text}`);
    assert.equal(schema, undefined);
  }
  checkedAgainstContract += 1;
}

const dirs = [tempDir(), tempDir()];
let server; // with --test-controls
let plain; // without

before(async () => {
  [server, plain] = await Promise.all([
    startServer({ dataDir: dirs[0], testControls: true }),
    startServer({ dataDir: dirs[1] }),
  ]);
});
after(async () => {
  await Promise.all([server?.stop(), plain?.stop()]);
  dirs.forEach(cleanup);
});

async function syncToken(s = server, auth = 'basic') {
  const { status, body } = await tokenRequest(s, { grant_type: 'client_credentials' }, {
    auth, clientId: SYNC_CLIENT, clientSecret: SYNC_SECRET,
  });
  assert.equal(status, 200, JSON.stringify(body));
  return body.access_token;
}

let token;
async function admin(method, path, { body, query, bearer, s = server } = {}) {
  token ||= await syncToken();
  const url = new URL(`${s.origin}/admin/realms/ops-center${path}`);
  if (query) url.search = new URLSearchParams(query);
  const headers = {};
  const auth = bearer === undefined ? token : bearer;
  if (auth) headers.authorization = `Bearer ${auth}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, {
    method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  checkAgainstContract(method, url.pathname, res.status, text);
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

async function control(method, path, body) {
  const res = await fetch(`${server.origin}/_dev/admin-api/${path}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json() };
}

async function mint(body) {
  const res = await fetch(`${server.origin}/_dev/mint`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  return (await res.json()).access_token;
}

test('client_credentials for the sync client: service-account token with realm-management roles', async () => {
  for (const auth of ['basic', 'post']) {
    const { status, body } = await tokenRequest(server, { grant_type: 'client_credentials' }, {
      auth, clientId: SYNC_CLIENT, clientSecret: SYNC_SECRET,
    });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 300);
    assert.equal(body.refresh_expires_in, 0);
    assert.equal(body.refresh_token, undefined);
    assert.equal(typeof body.scope, 'string');
    const { payload } = await verifyJwt(server, body.access_token);
    assert.equal(payload.azp, SYNC_CLIENT);
    assert.equal(payload.sub, SYNC_USER_ID);
    assert.equal(payload.typ, 'Bearer');
    assert.equal(payload.scope, body.scope);
    assert.equal(payload.preferred_username, `service-account-${SYNC_CLIENT}`);
    assert.deepEqual(
      [...payload.resource_access['realm-management'].roles].sort(),
      ['manage-users', 'query-groups', 'query-users', 'view-users'],
    );
    assert.ok(!payload.realm_access.roles.includes('admin'));
  }

  const wrong = await tokenRequest(server, { grant_type: 'client_credentials' }, { clientId: SYNC_CLIENT, clientSecret: 'nope' });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.error, 'invalid_client');
  // the web app's client has no service account; the sync client has no other grants
  const app = await tokenRequest(server, { grant_type: 'client_credentials' });
  assert.equal(app.status, 400);
  assert.equal(app.body.error, 'unauthorized_client');
  const password = await passwordGrant(server, {
    username: 'alice', password: USERS.alice.password, clientId: SYNC_CLIENT, clientSecret: SYNC_SECRET,
  });
  assert.equal(password.status, 400);
  assert.equal(password.body.error, 'unauthorized_client');
});

test('client_credentials for the model gateway: the credits-spender realm role, no admin rights', async () => {
  const { status, body } = await tokenRequest(server, { grant_type: 'client_credentials' }, {
    auth: 'basic', clientId: 'ops-center-model-gateway', clientSecret: 'dev-only-gateway-secret',
  });
  assert.equal(status, 200, JSON.stringify(body));
  const { payload } = await verifyJwt(server, body.access_token);
  assert.equal(payload.azp, 'ops-center-model-gateway');
  assert.equal(payload.typ, 'Bearer');
  assert.ok(payload.realm_access.roles.includes('credits-spender'));
  assert.ok(!payload.realm_access.roles.includes('admin'));
  assert.equal(payload.resource_access['realm-management'], undefined);
  // the sync client may not spend
  const sync = await verifyJwt(server, await syncToken());
  assert.ok(!sync.payload.realm_access.roles.includes('credits-spender'));
  // and the gateway may not use the Admin API
  const users = await admin('GET', '/users', { bearer: body.access_token });
  assert.equal(users.status, 403);
});

test('admin routes: 401 without a valid token, 403 without view-users / manage-users', async () => {
  for (const bearer of [null, 'nope', await mint({ username: 'admin', key: 'foreign' })]) {
    const { status, headers } = await admin('GET', '/users', { bearer });
    assert.equal(status, 401);
    assert.equal(headers.get('www-authenticate'), 'Bearer');
  }
  const expired = await mint({ username: 'admin', claims: { exp: Math.floor(Date.now() / 1000) - 60 } });
  assert.equal((await admin('GET', '/users', { bearer: expired })).status, 401);

  // an ordinary user's token (even the app's admin) has no realm-management roles
  const alice = (await passwordGrant(server, { username: 'admin', password: USERS.admin.password })).body.access_token;
  for (const [method, path, body] of [
    ['GET', '/users'], ['GET', `/users/${USERS.alice.id}`], ['PUT', `/users/${USERS.alice.id}`, {}],
    ['POST', '/users', { username: 'not-created' }],
  ]) {
    const res = await admin(method, path, { bearer: alice, body });
    assert.equal(res.status, 403, `${method} ${path}`);
    assert.deepEqual(res.body, { error: 'unknown_error' });
  }

  const viewOnly = await mint({ username: 'bob', claims: { resource_access: { 'realm-management': { roles: ['view-users'] } } } });
  assert.equal((await admin('GET', `/users/${USERS.bob.id}`, { bearer: viewOnly })).status, 200);
  assert.equal((await admin('PUT', `/users/${USERS.bob.id}`, { bearer: viewOnly, body: {} })).status, 403);
  const manage = await mint({ username: 'bob', claims: { resource_access: { 'realm-management': { roles: ['manage-users'] } } } });
  assert.equal((await admin('GET', `/users/${USERS.bob.id}`, { bearer: manage })).status, 200);

  assert.equal((await admin('GET', `/users/${USERS.alice.id}`)).status, 200);
});

test('find users: exact e-mail (case-insensitive), substring, search, paging, brief', async () => {
  const exact = await admin('GET', '/users', { query: { email: 'ALICE@Example.com', exact: 'true' } });
  assert.equal(exact.status, 200);
  assert.deepEqual(exact.body.map((u) => u.id), [USERS.alice.id]);
  assert.deepEqual(exact.body[0].attributes, { department: ['research'] });

  assert.deepEqual((await admin('GET', '/users', { query: { email: 'alice@example', exact: 'true' } })).body, []);
  const substring = await admin('GET', '/users', { query: { email: 'example.com' } });
  assert.deepEqual(substring.body.map((u) => u.username), ['admin', 'alice', 'bob']);
  assert.deepEqual((await admin('GET', '/users', { query: { username: 'bob', exact: 'true' } })).body.map((u) => u.id), [USERS.bob.id]);

  // service-account users turn up in field searches only, as in Keycloak
  const all = await admin('GET', '/users');
  assert.deepEqual(all.body.map((u) => u.username), ['admin', 'alice', 'bob']);
  const sa = await admin('GET', '/users', { query: { username: 'service-account' } });
  assert.deepEqual(sa.body.map((u) => u.serviceAccountClientId), [SYNC_CLIENT, 'ops-center-model-gateway']);
  assert.deepEqual((await admin('GET', '/users', { query: { search: 'al' } })).body.map((u) => u.username), ['alice']);
  assert.deepEqual((await admin('GET', '/users', { query: { search: '*nderson' } })).body.map((u) => u.username), ['alice']);
  assert.deepEqual((await admin('GET', '/users', { query: { search: 'nderson' } })).body, []);

  const page = await admin('GET', '/users', { query: { first: '1', max: '1' } });
  assert.deepEqual(page.body.map((u) => u.username), ['alice']);
  const brief = await admin('GET', '/users', { query: { username: 'alice', briefRepresentation: 'true' } });
  assert.equal(brief.body[0].attributes, undefined);
  assert.equal(brief.body[0].email, 'alice@example.com');

  assert.equal((await admin('GET', '/users/count', { query: { email: 'example.com' } })).body, 3);
  const profile = await admin('GET', '/users/profile');
  assert.ok(profile.body.attributes.some((a) => a.name === 'subscription_tier'));
});

test('GET a user; unknown id is 404', async () => {
  const { status, body } = await admin('GET', `/users/${USERS.alice.id}`);
  assert.equal(status, 200);
  assert.equal(body.id, USERS.alice.id);
  assert.equal(body.username, 'alice');
  assert.equal(body.firstName, 'Alice');
  assert.equal(body.lastName, 'Anderson');
  assert.equal(body.email, 'alice@example.com');
  assert.equal(body.emailVerified, true);
  assert.equal(body.enabled, true);
  assert.equal(body.createdTimestamp, 1735689601000);
  assert.deepEqual(body.attributes, { department: ['research'] });
  // no attributes: no "attributes" member
  assert.equal((await admin('GET', `/users/${USERS.admin.id}`)).body.attributes, undefined);

  const missing = await admin('GET', '/users/00000000-0000-4000-8000-000000000000');
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.body, { error: 'User not found' });
  assert.equal((await admin('PUT', '/users/00000000-0000-4000-8000-000000000000', { body: {} })).status, 404);
});

test('PUT replaces the user: omitted attributes removed, omitted firstName cleared', async () => {
  const path = `/users/${USERS.bob.id}`;
  const bob = (await admin('GET', path)).body;
  const subscribed = {
    ...bob,
    attributes: {
      subscription_tier: ['pro'], subscription_status: ['active'], stripe_customer_id: ['cus_123'],
    },
  };
  assert.equal((await admin('PUT', path, { body: subscribed })).status, 204);
  let now = (await admin('GET', path)).body;
  assert.deepEqual(now.attributes, subscribed.attributes);
  assert.equal(now.firstName, 'Bob');
  // found by attribute (Keycloak's q=name:value)
  const byCustomer = await admin('GET', '/users', { query: { q: 'stripe_customer_id:cus_123', exact: 'true' } });
  assert.deepEqual(byCustomer.body.map((u) => u.id), [USERS.bob.id]);
  assert.deepEqual((await admin('GET', '/users', { query: { q: 'stripe_customer_id:cus_12', exact: 'true' } })).body, []);

  // a body with attributes but without subscription_status and firstName
  const { firstName, ...rest } = now;
  assert.equal((await admin('PUT', path, {
    body: { ...rest, attributes: { subscription_tier: ['team'], stripe_customer_id: ['cus_123'] } },
  })).status, 204);
  now = (await admin('GET', path)).body;
  assert.deepEqual(now.attributes, { subscription_tier: ['team'], stripe_customer_id: ['cus_123'] });
  assert.equal(now.firstName, undefined);
  assert.equal(now.lastName, 'Brown');
  assert.equal(now.email, 'bob@example.com');
  assert.equal(now.emailVerified, true);
  // tokens follow the stored user
  const token = (await passwordGrant(server, { username: 'bob', password: USERS.bob.password })).body.access_token;
  assert.equal(decodeJwt(token).payload.given_name, undefined);
  assert.equal(decodeJwt(token).payload.name, 'Brown');

  // Keycloak: a body without "attributes" keeps the stored attributes and names
  assert.equal((await admin('PUT', path, { body: { firstName: 'Robert' } })).status, 204);
  now = (await admin('GET', path)).body;
  assert.equal(now.firstName, 'Robert');
  assert.equal(now.lastName, 'Brown');
  assert.deepEqual(now.attributes, { subscription_tier: ['team'], stripe_customer_id: ['cus_123'] });

  // an empty attributes object removes them all
  assert.equal((await admin('PUT', path, { body: { ...now, attributes: {} } })).status, 204);
  assert.equal((await admin('GET', path)).body.attributes, undefined);
});

test('PUT: undeclared attributes dropped (204); id and username fixed; bad bodies 400', async () => {
  const path = `/users/${USERS.alice.id}`;
  const alice = (await admin('GET', path)).body;
  const res = await admin('PUT', path, {
    body: { ...alice, id: 'something-else', attributes: { ...alice.attributes, subscription_tier: ['pro'], favourite_colour: ['blue'] } },
  });
  assert.equal(res.status, 204);
  const now = (await admin('GET', path)).body;
  assert.equal(now.id, USERS.alice.id);
  assert.deepEqual(now.attributes, { department: ['research'], subscription_tier: ['pro'] });
  assert.equal((await admin('GET', '/users/something-else')).status, 404);

  const rename = await admin('PUT', path, { body: { ...now, username: 'alicia' } });
  assert.equal(rename.status, 400);
  assert.equal(rename.body.errorMessage, 'error-user-attribute-read-only');
  assert.equal((await admin('PUT', path, { body: '{"attributes": ' })).status, 400);
  assert.equal((await admin('PUT', path, { body: { attributes: { subscription_tier: 'pro' } } })).status, 400);
  const taken = await admin('PUT', path, { body: { ...now, email: 'bob@example.com' } });
  assert.equal(taken.status, 409);
  assert.deepEqual((await admin('GET', path)).body, now, 'refused updates change nothing');
});

test('faults and the request log (test controls)', async () => {
  assert.equal((await control('DELETE', 'requests')).status, 200);
  const path = `/users/${USERS.admin.id}`;
  const current = (await admin('GET', path)).body;

  const set = await control('POST', 'faults', { method: 'PUT', status: 503, count: 2 });
  assert.equal(set.status, 200);
  assert.deepEqual(set.body.faults, [{ method: 'PUT', status: 503, count: 2 }]);
  assert.equal((await admin('PUT', path, { body: current })).status, 503);
  assert.equal((await admin('GET', path)).status, 200, 'GET is not affected');
  assert.equal((await admin('PUT', path, { body: current })).status, 503);
  assert.equal((await admin('PUT', path, { body: current })).status, 204, 'count used up');

  await control('POST', 'faults', { method: '*', status: 500 });
  for (let i = 0; i < 3; i += 1) assert.equal((await admin('GET', path)).status, 500);
  assert.deepEqual((await control('DELETE', 'faults')).body, { faults: [] });
  assert.equal((await admin('GET', path)).status, 200);

  for (const bad of [{ status: 99 }, { status: '503' }, { status: 503, count: 0 }, { status: 503, method: 'G T' }]) {
    assert.equal((await control('POST', 'faults', bad)).status, 400, JSON.stringify(bad));
  }

  await admin('GET', '/users', { query: { email: 'alice@example.com', exact: 'true' } });
  const log = (await control('GET', 'requests')).body;
  assert.deepEqual(log.map((r) => `${r.method} ${r.status}`), [
    'GET 200', 'PUT 503', 'GET 200', 'PUT 503', 'PUT 204', 'GET 500', 'GET 500', 'GET 500', 'GET 200', 'GET 200',
  ]);
  assert.deepEqual(log[1], {
    method: 'PUT', path: `/admin/realms/ops-center${path}`, query: {}, body: current, status: 503,
  });
  assert.deepEqual(log.at(-1).query, { email: 'alice@example.com', exact: 'true' });
  assert.deepEqual((await control('DELETE', 'requests')).body, []);
  assert.deepEqual((await control('GET', 'requests')).body, []);

  // off without --test-controls
  const off = await fetch(`${plain.origin}/_dev/admin-api/faults`, { method: 'POST', body: '{"status":503}' });
  assert.equal(off.status, 404);
});

test('the dev users page lists users and attributes; ?format=json validates as UserRepresentation[]', async () => {
  const page = await fetch(`${plain.issuer}/dev/users`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /text\/html/);
  const html = await page.text();
  assert.match(html, /alice/);
  assert.match(html, /department/);
  assert.match(html, /research/);

  const res = await fetch(`${plain.issuer}/dev/users?format=json`);
  const users = await res.json();
  validate(operation('GET', '/admin/realms/ops-center/users').responses['200'].content['application/json'].schema, users, 'dev users');
  assert.deepEqual(users.find((u) => u.username === 'alice').attributes, { department: ['research'] });
  assert.ok(users.some((u) => u.serviceAccountClientId === SYNC_CLIENT));
});

// POST /users: a fresh user per browser test.
const USERS_PATH = '/admin/realms/ops-center/users';
let serial = 0;
function newUser(extra = {}) {
  serial += 1;
  const name = `e2e-user-${serial}-${Date.now()}`;
  return {
    username: name,
    email: `${name}@test.example`,
    firstName: 'Eve',
    lastName: `Tester${serial}`,
    enabled: true,
    credentials: [{ type: 'password', value: `${name}-password`, temporary: false }],
    ...extra,
  };
}
async function create(body, options = {}) {
  const res = await admin('POST', '/users', { body, ...options });
  if (res.status === 201) {
    const location = res.headers.get('location');
    assert.match(location, new RegExp(`^${server.origin}${USERS_PATH}/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`));
    res.id = location.slice(location.lastIndexOf('/') + 1);
  }
  return res;
}

test('POST /users creates a user: 201 + Location, then GET, count, search, password grant and login page', async () => {
  const before = (await admin('GET', '/users/count')).body;
  const started = Date.now();
  const body = newUser({ username: `E2E-Mixed-Case-${Date.now()}`, email: `Mixed.Case-${Date.now()}@Test.Example`, emailVerified: true });
  const created = await create(body);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body, undefined, 'no body');
  const { id } = created;

  const user = await admin('GET', `/users/${id}`);
  assert.equal(user.status, 200);
  assert.equal(user.body.id, id);
  assert.equal(user.body.username, body.username.toLowerCase());
  assert.equal(user.body.email, body.email.toLowerCase());
  assert.equal(user.body.firstName, 'Eve');
  assert.equal(user.body.lastName, body.lastName);
  assert.equal(user.body.enabled, true);
  assert.equal(user.body.emailVerified, true);
  assert.equal(user.body.attributes, undefined);
  assert.ok(user.body.createdTimestamp >= started && user.body.createdTimestamp <= Date.now());
  assert.deepEqual(user.body.requiredActions, []);

  assert.equal((await admin('GET', '/users/count')).body, before + 1);
  assert.ok((await admin('GET', '/users')).body.some((u) => u.id === id), 'in the plain listing');
  const found = await admin('GET', '/users', { query: { email: body.email, exact: 'true' } });
  assert.deepEqual(found.body.map((u) => u.id), [id]);
  assert.deepEqual((await admin('GET', '/users', { query: { search: `id:${id}` } })).body.map((u) => u.id), [id]);

  // the new user logs in (username in any case, or e-mail) and gets a token like the others'
  const password = body.credentials[0].value;
  for (const login of [body.username, body.email]) {
    const grant = await passwordGrant(server, { username: login, password });
    assert.equal(grant.status, 200, JSON.stringify(grant.body));
    const { payload } = await verifyJwt(server, grant.body.access_token);
    assert.equal(payload.sub, id);
    assert.equal(payload.preferred_username, body.username.toLowerCase());
    assert.equal(payload.email, body.email.toLowerCase());
    assert.equal(payload.email_verified, true);
    assert.equal(payload.name, `Eve ${body.lastName}`);
    assert.deepEqual([...payload.realm_access.roles].sort(), ['default-roles-ops-center', 'offline_access', 'uma_authorization']);
  }
  assert.equal((await passwordGrant(server, { username: body.username, password: 'wrong' })).status, 401);

  const { location } = await loginThroughPage(server, { username: body.username, password });
  assert.ok(location, 'redirected back to the client');
  assert.equal(location.origin, 'http://127.0.0.1:3000');
  assert.ok(location.searchParams.get('code'));
});

test('POST /users: 409 on a duplicate username or e-mail (case-insensitive); nothing is created', async () => {
  const first = newUser();
  assert.equal((await create(first)).status, 201);
  const count = (await admin('GET', '/users/count')).body;

  const sameName = await create(newUser({ username: first.username.toUpperCase() }));
  assert.equal(sameName.status, 409);
  assert.deepEqual(sameName.body, { errorMessage: 'User exists with same username' });
  const sameEmail = await create(newUser({ email: first.email.toUpperCase() }));
  assert.equal(sameEmail.status, 409);
  assert.deepEqual(sameEmail.body, { errorMessage: 'User exists with same email' });
  // the realm file's users and service accounts count too
  assert.equal((await create(newUser({ username: 'Alice' }))).status, 409);
  assert.equal((await create(newUser({ email: 'ALICE@example.com' }))).status, 409);
  assert.equal((await create(newUser({ username: `service-account-${SYNC_CLIENT}` }))).status, 409);

  assert.equal((await admin('GET', '/users/count')).body, count);
});

test('POST /users: 400 on a missing username, a bad e-mail, profile validations and unsupported fields', async () => {
  const count = (await admin('GET', '/users/count')).body;
  for (const username of [undefined, null, '', '   ']) {
    const res = await create(newUser({ username }));
    assert.equal(res.status, 400, JSON.stringify(username));
    assert.deepEqual(res.body, { errorMessage: 'User name is missing' });
  }
  const badEmail = await create(newUser({ email: 'Not-An-Email' }));
  assert.equal(badEmail.status, 400);
  assert.deepEqual(badEmail.body, { field: 'email', errorMessage: 'error-invalid-email', params: ['email', 'not-an-email'] });
  // the shipped user profile: username length 3-255, no prohibited characters
  const short = await create(newUser({ username: 'ab' }));
  assert.equal(short.status, 400);
  assert.deepEqual(short.body, { field: 'username', errorMessage: 'error-invalid-length', params: ['username', 3, 255] });
  const spaced = await create(newUser({ username: 'has space' }));
  assert.deepEqual(spaced.body, { field: 'username', errorMessage: 'error-username-invalid-character', params: ['username'] });
  // several errors: {"errors": [...]}
  const both = await create(newUser({ username: 'a/', email: 'nope' }));
  assert.equal(both.status, 400);
  assert.deepEqual(both.body.errors.map((e) => `${e.field} ${e.errorMessage}`), [
    'username error-invalid-length', 'username error-username-invalid-character', 'email error-invalid-email',
  ]);
  const tooLong = await create(newUser({ attributes: { subscription_tier: ['x'.repeat(256)] } }));
  assert.deepEqual(tooLong.body, {
    field: 'subscription_tier', errorMessage: 'error-invalid-length-too-long', params: ['subscription_tier', null, 255],
  });

  // not JSON / wrongly typed
  assert.equal((await create('{"username": ')).status, 400);
  assert.equal((await create(newUser({ enabled: 'yes' }))).status, 400);
  assert.equal((await create(newUser({ attributes: { subscription_tier: 'pro' } }))).status, 400);
  assert.equal((await create(newUser({ credentials: { type: 'password', value: 'x' } }))).status, 400);
  // what this provider cannot do is refused, not ignored
  for (const extra of [
    { credentials: [{ type: 'password', value: 'temp-password', temporary: true }] },
    { credentials: [{ type: 'password', hashedSaltedValue: 'abc', secretData: '{}' }] },
    { credentials: [{ type: 'otp', value: '123456' }] },
    { requiredActions: ['UPDATE_PASSWORD'] },
    { groups: ['/staff'] },
  ]) {
    const res = await create(newUser(extra));
    assert.equal(res.status, 400, JSON.stringify(extra));
    assert.match(res.body.errorMessage, /^dev-idp does not support /);
  }
  assert.equal((await admin('GET', '/users/count')).body, count, 'nothing created');
});

test('POST /users: 401 without a token, 403 without manage-users', async () => {
  const count = (await admin('GET', '/users/count')).body;
  assert.equal((await create(newUser(), { bearer: null })).status, 401);
  const viewOnly = await mint({ username: 'bob', claims: { resource_access: { 'realm-management': { roles: ['view-users', 'query-users'] } } } });
  const forbidden = await create(newUser(), { bearer: viewOnly });
  assert.equal(forbidden.status, 403);
  assert.deepEqual(forbidden.body, { error: 'unknown_error' });
  assert.equal((await admin('GET', '/users/count')).body, count);
  const manage = await mint({ username: 'bob', claims: { resource_access: { 'realm-management': { roles: ['manage-users'] } } } });
  assert.equal((await create(newUser(), { bearer: manage })).status, 201);
  // GET-only sub-paths do not take POST (not in the contract, so asked directly)
  const res = await fetch(`${server.origin}${USERS_PATH}/count`, {
    method: 'POST', headers: { authorization: `Bearer ${manage}`, 'content-type': 'application/json' }, body: '{}',
  });
  assert.equal(res.status, 405);
});

test('POST /users: undeclared attributes dropped, realmRoles ignored, id ignored, createdTimestamp kept', async () => {
  const body = newUser({
    id: '11111111-1111-4111-8111-111111111111',
    createdTimestamp: 1700000000000,
    realmRoles: ['admin'],
    clientRoles: { 'realm-management': ['manage-users'] },
    attributes: { subscription_tier: ['pro'], favourite_colour: ['blue'], department: [] },
  });
  const created = await create(body);
  assert.equal(created.status, 201);
  assert.notEqual(created.id, body.id);
  assert.equal((await admin('GET', `/users/${body.id}`)).status, 404);
  const user = (await admin('GET', `/users/${created.id}`)).body;
  assert.deepEqual(user.attributes, { subscription_tier: ['pro'] });
  assert.equal(user.createdTimestamp, 1700000000000);
  const found = await admin('GET', '/users', { query: { q: 'favourite_colour:blue' } });
  assert.ok(!found.body.some((u) => u.id === created.id));

  const grant = await passwordGrant(server, { username: body.username, password: body.credentials[0].value });
  const { payload } = await verifyJwt(server, grant.body.access_token);
  assert.ok(!payload.realm_access.roles.includes('admin'), 'realmRoles are not assigned on create');
  assert.equal(payload.resource_access?.['realm-management'], undefined);
  // and it can be updated like the others
  assert.equal((await admin('PUT', `/users/${created.id}`, { body: { ...user, attributes: {} } })).status, 204);
  assert.equal((await admin('GET', `/users/${created.id}`)).body.attributes, undefined);
});

test('POST /users: enabled is false unless given (as Keycloak), and a disabled user cannot log in', async () => {
  for (const enabled of [false, undefined]) {
    const body = newUser({ enabled });
    const created = await create(body);
    assert.equal(created.status, 201);
    const user = (await admin('GET', `/users/${created.id}`)).body;
    assert.equal(user.enabled, false);
    assert.equal(user.emailVerified, false);
    const password = body.credentials[0].value;
    const grant = await passwordGrant(server, { username: body.username, password });
    assert.equal(grant.status, 400);
    assert.equal(grant.body.error, 'invalid_grant');
    const { res } = await loginThroughPage(server, { username: body.username, password });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /Account is disabled, contact your administrator\./);
    // an admin enables it: now it logs in
    assert.equal((await admin('PUT', `/users/${created.id}`, { body: { enabled: true } })).status, 204);
    assert.equal((await passwordGrant(server, { username: body.username, password })).status, 200);
  }
  // no credentials: a user without a password cannot log in
  const body = newUser({ credentials: undefined });
  assert.equal((await create(body)).status, 201);
  assert.equal((await passwordGrant(server, { username: body.username, password: '' })).status, 401);
});

test('the shipped user profile is a valid UPConfig and declares the subscription attributes admin-only', () => {
  const realm = JSON.parse(readFileSync(SHIPPED_REALM, 'utf8'));
  const [component] = realm.components['org.keycloak.userprofile.UserProfileProvider'];
  const config = JSON.parse(component.config['kc.user.profile.config'][0]);
  validate({ $ref: '#/components/schemas/UPConfig' }, config, 'kc.user.profile.config');
  const byName = Object.fromEntries(config.attributes.map((a) => [a.name, a]));
  for (const name of ['username', 'email', 'firstName', 'lastName']) assert.ok(byName[name], name);
  for (const name of ['subscription_tier', 'subscription_status', 'stripe_customer_id', 'stripe_subscription_id',
    'subscription_start_date', 'subscription_end_date']) {
    assert.deepEqual(byName[name].permissions, { view: ['admin'], edit: ['admin'] }, name);
  }
  assert.deepEqual(byName.department.permissions, { view: ['admin', 'user'], edit: ['admin'] });
});

test('every admin answer above was checked against the contract', () => {
  assert.ok(checkedAgainstContract > 50, `${checkedAgainstContract} checked`);
});
