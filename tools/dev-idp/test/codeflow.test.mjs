import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  startServer, tempDir, cleanup, writeTestRealm, CookieJar, pkce, loginThroughPage, tokenRequest,
  verifyJwt, decodeJwt, USERS, CLIENT_ID,
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

const CALLBACK = 'http://127.0.0.1:3000/auth/callback';

test('login page has Keycloak element ids', async () => {
  const jar = new CookieJar();
  const { challenge } = pkce();
  const auth = new URL(server.endpoint('auth'));
  auth.search = new URLSearchParams({
    client_id: CLIENT_ID, response_type: 'code', scope: 'openid', redirect_uri: CALLBACK,
    state: 's', nonce: 'n', code_challenge: challenge, code_challenge_method: 'S256',
  });
  const res = await jar.fetch(auth);
  assert.equal(res.status, 303);
  const login = new URL(res.headers.get('location'), server.origin);
  assert.match(login.pathname, /^\/realms\/ops-center\/login-actions\/authenticate\//);
  const page = await (await jar.fetch(login)).text();
  assert.match(page, /<form id="kc-form-login"/);
  assert.match(page, /id="username"/);
  assert.match(page, /id="password"/);
  assert.match(page, /id="kc-login"/);
  assert.doesNotMatch(page, /id="input-error"/);
});

test('wrong password re-shows the page with Keycloak\'s error', async () => {
  const { res, page } = await loginThroughPage(server, { password: 'nope' });
  assert.ok(page);
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(html, /<span id="input-error"[^>]*>Invalid username or password\.<\/span>/);
  assert.match(html, /id="kc-login"/);
  assert.match(html, /value="alice"/);
});

test('code flow end to end: code, PKCE token exchange, Keycloak-shaped tokens', async () => {
  const flow = await loginThroughPage(server, { username: 'alice' });
  assert.equal(flow.res.status, 303);
  const cb = flow.location;
  assert.equal(`${cb.origin}${cb.pathname}`, CALLBACK);
  assert.equal(cb.searchParams.get('state'), flow.state);
  assert.equal(cb.searchParams.get('iss'), server.issuer);
  const code = cb.searchParams.get('code');
  assert.ok(code);

  const { status, body } = await tokenRequest(server, {
    grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: flow.verifier,
  });
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.token_type, 'Bearer');
  assert.equal(body.expires_in, 300);
  assert.ok(body.refresh_token, 'refresh token issued without offline_access');

  const { payload: at, protectedHeader } = await verifyJwt(server, body.access_token, { audience: 'account' });
  assert.equal(protectedHeader.alg, 'RS256');
  assert.equal(at.sub, USERS.alice.id);
  assert.equal(at.azp, CLIENT_ID);
  assert.equal(at.typ, 'Bearer');
  assert.ok(at.sid);
  assert.deepEqual(at.realm_access.roles.includes('admin'), false);
  assert.equal(at.preferred_username, 'alice');

  const { payload: id } = await verifyJwt(server, body.id_token, { audience: CLIENT_ID });
  assert.equal(id.nonce, flow.nonce);
  assert.equal(id.sub, USERS.alice.id);
  assert.equal(id.email, 'alice@example.com');
  assert.equal(id.name, 'Alice Anderson');
  assert.equal(id.sid, at.sid);
  assert.equal(id.realm_access, undefined);

  // refresh grant
  const refreshed = await tokenRequest(server, { grant_type: 'refresh_token', refresh_token: body.refresh_token });
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  const { payload: at2 } = await verifyJwt(server, refreshed.body.access_token);
  assert.equal(at2.sub, USERS.alice.id);
  assert.equal(at2.sid, at.sid);
  assert.notEqual(at2.jti, at.jti);
  assert.equal(decodeJwt(refreshed.body.id_token).payload.sub, USERS.alice.id);

  // a code is single-use
  const replay = await tokenRequest(server, {
    grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: flow.verifier,
  });
  assert.equal(replay.status, 400);
  assert.equal(replay.body.error, 'invalid_grant');

  // ... and replaying it revokes what it issued (as Keycloak does)
  const afterReplay = await tokenRequest(server, { grant_type: 'refresh_token', refresh_token: body.refresh_token });
  assert.equal(afterReplay.status, 400);
  assert.equal(afterReplay.body.error, 'invalid_grant');
});
