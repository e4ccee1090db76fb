import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  startServer, tempDir, cleanup, writeTestRealm, passwordGrant, tokenRequest, verifyJwt, decodeJwt,
  USERS, CLIENT_ID, BASIC,
} from './helpers.mjs';

let server;
let dir;

before(async () => {
  dir = tempDir();
  server = await startServer({ dataDir: dir, realmFile: writeTestRealm(dir) });
});

after(async () => {
  await server?.stop();
  cleanup(dir);
});

test('password grant for alice: Keycloak-shaped JWT access token, verified against the JWKS', async () => {
  const { status, body } = await passwordGrant(server, { username: 'alice', password: USERS.alice.password });
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.token_type, 'Bearer');
  assert.equal(body.expires_in, 300);
  assert.ok(body.refresh_token);
  assert.ok(body.refresh_expires_in > 0);
  assert.equal(body.scope, 'openid profile email');

  const { payload, protectedHeader } = await verifyJwt(server, body.access_token, { audience: 'account' });
  assert.equal(protectedHeader.alg, 'RS256');
  assert.equal(protectedHeader.typ, 'JWT');
  assert.ok(protectedHeader.kid);
  const now = Math.floor(Date.now() / 1000);
  assert.equal(payload.iss, server.issuer);
  assert.equal(payload.sub, USERS.alice.id);
  assert.equal(payload.aud, 'account');
  assert.equal(payload.azp, CLIENT_ID);
  assert.equal(payload.typ, 'Bearer');
  assert.ok(Math.abs(payload.iat - now) < 5);
  assert.equal(payload.exp - payload.iat, 300);
  assert.equal(typeof payload.jti, 'string');
  assert.equal(typeof payload.sid, 'string');
  assert.equal(body.session_state, payload.sid);
  assert.equal(payload.scope, 'openid profile email');
  assert.equal(payload.preferred_username, 'alice');
  assert.equal(payload.email, 'alice@example.com');
  assert.equal(payload.email_verified, true);
  assert.equal(payload.name, 'Alice Anderson');
  assert.equal(payload.given_name, 'Alice');
  assert.equal(payload.family_name, 'Anderson');
  assert.equal(payload.client_id, undefined);
  assert.deepEqual(
    [...payload.realm_access.roles].sort(),
    ['default-roles-ops-center', 'offline_access', 'uma_authorization'],
  );
  assert.ok(!payload.realm_access.roles.includes('admin'));
});

test('admin has the admin realm role; bob does not', async () => {
  const admin = await passwordGrant(server, { username: 'admin', password: USERS.admin.password });
  assert.equal(admin.status, 200);
  const { payload } = await verifyJwt(server, admin.body.access_token);
  assert.equal(payload.sub, USERS.admin.id);
  assert.ok(payload.realm_access.roles.includes('admin'));
  assert.ok(payload.realm_access.roles.includes('default-roles-ops-center'));

  const bob = await passwordGrant(server, { username: 'bob', password: USERS.bob.password });
  assert.equal(bob.status, 200);
  assert.ok(!decodeJwt(bob.body.access_token).payload.realm_access.roles.includes('admin'));
});

test('ID token: profile and email claims, no roles', async () => {
  const { body } = await passwordGrant(server, { username: 'admin', password: USERS.admin.password });
  const { payload } = await verifyJwt(server, body.id_token, { audience: CLIENT_ID });
  assert.equal(payload.sub, USERS.admin.id);
  assert.equal(payload.typ, 'ID');
  assert.equal(typeof payload.auth_time, 'number');
  assert.equal(payload.azp, CLIENT_ID);
  assert.equal(payload.email, 'admin@example.com');
  assert.equal(payload.preferred_username, 'admin');
  assert.equal(payload.realm_access, undefined);
  assert.equal(payload.resource_access, undefined);
});

test('no id_token without the openid scope (as Keycloak)', async () => {
  const { status, body } = await passwordGrant(server, { username: 'alice', password: USERS.alice.password, scope: '' });
  assert.equal(status, 200);
  assert.equal(body.id_token, undefined);
  assert.equal(decodeJwt(body.access_token).payload.scope, 'profile email');
});

test('wrong password or unknown user: 401 invalid_grant', async () => {
  for (const [username, password] of [['alice', 'wrong'], ['nobody', 'x'], ['alice', '']]) {
    const { status, body } = await passwordGrant(server, { username, password });
    assert.equal(status, 401, `${username}/${password}`);
    assert.equal(body.error, 'invalid_grant');
    assert.equal(body.error_description, 'Invalid user credentials');
  }
});

test('disabled user refused', async () => {
  const { status, body } = await passwordGrant(server, { username: 'carol', password: 'carol-password' });
  assert.equal(status, 400);
  assert.equal(body.error, 'invalid_grant');
});

test('client without direct access grants is refused', async () => {
  const { status, body } = await passwordGrant(server, {
    username: 'alice', password: USERS.alice.password, clientId: 'browser-only', clientSecret: 'browser-only-secret',
  });
  assert.equal(status, 400);
  assert.equal(body.error, 'unauthorized_client');
});

test('wrong client secret refused', async () => {
  const { status, body } = await passwordGrant(server, {
    username: 'alice', password: USERS.alice.password, clientSecret: 'nope',
  });
  assert.equal(status, 401);
  assert.equal(body.error, 'invalid_client');
});

test('refresh grant works for a password-grant refresh token', async () => {
  const first = await passwordGrant(server, { username: 'bob', password: USERS.bob.password });
  const { status, body } = await tokenRequest(server, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token });
  assert.equal(status, 200, JSON.stringify(body));
  const { payload } = await verifyJwt(server, body.access_token);
  assert.equal(payload.sub, USERS.bob.id);
  assert.equal(payload.azp, CLIENT_ID);
  assert.equal(payload.scope, 'openid profile email');
  assert.equal(payload.sid, decodeJwt(first.body.access_token).payload.sid);
  assert.ok(body.id_token);
});

test('userinfo accepts the access token', async () => {
  const { body } = await passwordGrant(server, { username: 'alice', password: USERS.alice.password });
  const res = await fetch(server.endpoint('userinfo'), { headers: { authorization: `Bearer ${body.access_token}` } });
  assert.equal(res.status, 200);
  const info = await res.json();
  assert.equal(info.sub, USERS.alice.id);
  assert.equal(info.email, 'alice@example.com');
  assert.equal(info.preferred_username, 'alice');

  const bad = await fetch(server.endpoint('userinfo'), { headers: { authorization: 'Bearer nope' } });
  assert.equal(bad.status, 401);
});

test('introspection and revocation', async () => {
  const { body } = await passwordGrant(server, { username: 'alice', password: USERS.alice.password });
  const introspect = async (token) => {
    const res = await fetch(server.endpoint('token/introspect'), {
      method: 'POST',
      headers: { authorization: BASIC, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    });
    assert.equal(res.status, 200);
    return res.json();
  };
  const active = await introspect(body.access_token);
  assert.equal(active.active, true);
  assert.equal(active.sub, USERS.alice.id);

  const rt = await introspect(body.refresh_token);
  assert.equal(rt.active, true);

  const res = await fetch(server.endpoint('revoke'), {
    method: 'POST',
    headers: { authorization: BASIC, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: body.refresh_token, token_type_hint: 'refresh_token' }),
  });
  assert.equal(res.status, 200);
  assert.equal((await introspect(body.refresh_token)).active, false);
  const refreshed = await tokenRequest(server, { grant_type: 'refresh_token', refresh_token: body.refresh_token });
  assert.equal(refreshed.status, 400);
});

test('client credentials for a service-account client: Keycloak-shaped JWT', async () => {
  const { status, body } = await tokenRequest(server, { grant_type: 'client_credentials' }, {
    clientId: 'billing-service', clientSecret: 'billing-service-secret',
  });
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.refresh_token, undefined);
  const { payload, protectedHeader } = await verifyJwt(server, body.access_token, { audience: 'account' });
  assert.equal(protectedHeader.typ, 'JWT');
  assert.equal(payload.azp, 'billing-service');
  assert.equal(payload.typ, 'Bearer');
  assert.equal(payload.preferred_username, 'service-account-billing-service');
  assert.ok(!payload.realm_access.roles.includes('admin'));

  // the app's client has no service account
  const refused = await tokenRequest(server, { grant_type: 'client_credentials' });
  assert.equal(refused.status, 400);
  assert.equal(refused.body.error, 'unauthorized_client');
});
