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
  assert.equal(id.typ, 'ID');
  assert.equal(id.azp, CLIENT_ID);
  assert.equal(typeof id.auth_time, 'number');

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

async function codeFor(opts = {}) {
  const flow = await loginThroughPage(server, opts);
  assert.equal(flow.res.status, 303);
  return { ...flow, code: flow.location.searchParams.get('code') };
}

test('PKCE is enforced: no challenge, no verifier, wrong verifier', async () => {
  // authorization request without code_challenge is refused (redirected back with an error)
  const auth = new URL(server.endpoint('auth'));
  auth.search = new URLSearchParams({
    client_id: CLIENT_ID, response_type: 'code', scope: 'openid', redirect_uri: CALLBACK, state: 'st',
  });
  const res = await fetch(auth, { redirect: 'manual' });
  assert.equal(res.status, 303);
  const back = new URL(res.headers.get('location'));
  assert.equal(back.searchParams.get('error'), 'invalid_request');
  assert.equal(back.searchParams.get('state'), 'st');

  const missing = await codeFor();
  const r1 = await tokenRequest(server, { grant_type: 'authorization_code', code: missing.code, redirect_uri: CALLBACK });
  assert.equal(r1.status, 400);
  assert.equal(r1.body.error, 'invalid_grant');

  const wrong = await codeFor();
  const r2 = await tokenRequest(server, {
    grant_type: 'authorization_code', code: wrong.code, redirect_uri: CALLBACK, code_verifier: pkce().verifier,
  });
  assert.equal(r2.status, 400);
  assert.equal(r2.body.error, 'invalid_grant');
});

test('client secret: basic and post accepted, wrong secret refused', async () => {
  const a = await codeFor();
  const post = await tokenRequest(server, {
    grant_type: 'authorization_code', code: a.code, redirect_uri: CALLBACK, code_verifier: a.verifier,
  }, { auth: 'post' });
  assert.equal(post.status, 200, JSON.stringify(post.body));

  const b = await codeFor();
  const bad = await tokenRequest(server, {
    grant_type: 'authorization_code', code: b.code, redirect_uri: CALLBACK, code_verifier: b.verifier,
  }, { clientSecret: 'not-the-secret' });
  assert.equal(bad.status, 401);
  assert.equal(bad.body.error, 'invalid_client');
});

test('redirect URIs: exact, trailing-* prefix rule, unregistered refused', async () => {
  // http://127.0.0.1* prefix-matches any port
  const wildcard = 'http://127.0.0.1:45678/auth/callback';
  const w = await codeFor({ redirectUri: wildcard });
  assert.equal(`${w.location.origin}${w.location.pathname}`, wildcard);
  const ok = await tokenRequest(server, {
    grant_type: 'authorization_code', code: w.code, redirect_uri: wildcard, code_verifier: w.verifier,
  });
  assert.equal(ok.status, 200);

  // token request must repeat the same redirect_uri
  const x = await codeFor({ redirectUri: wildcard });
  const mismatch = await tokenRequest(server, {
    grant_type: 'authorization_code', code: x.code, redirect_uri: CALLBACK, code_verifier: x.verifier,
  });
  assert.equal(mismatch.status, 400);

  for (const bad of ['http://evil.example/auth/callback', 'http://localhost:3001/auth/callback', 'http://localhost:3000/auth/callback/x']) {
    const auth = new URL(server.endpoint('auth'));
    auth.search = new URLSearchParams({
      client_id: CLIENT_ID, response_type: 'code', scope: 'openid', redirect_uri: bad,
      code_challenge: pkce().challenge, code_challenge_method: 'S256',
    });
    const res = await fetch(auth, { redirect: 'manual' });
    assert.equal(res.status, 400, bad);
    assert.equal(res.headers.get('location'), null);
    assert.match(await res.text(), /Invalid parameter: redirect_uri/);
  }
});

test('disabled user cannot log in', async () => {
  const { res } = await loginThroughPage(server, { username: 'carol', password: 'carol-password' });
  assert.equal(res.status, 200);
  assert.match(await res.text(), /id="input-error"[^>]*>Account is disabled/);
});

test('login by e-mail address works, like Keycloak', async () => {
  const { res } = await loginThroughPage(server, { username: 'bob@example.com', password: USERS.bob.password });
  assert.equal(res.status, 303);
});

test('RP-initiated logout with id_token_hint redirects to post_logout_redirect_uri without confirmation', async () => {
  const flow = await codeFor();
  const { body } = await tokenRequest(server, {
    grant_type: 'authorization_code', code: flow.code, redirect_uri: CALLBACK, code_verifier: flow.verifier,
  });
  const { jar } = flow;

  // unregistered post_logout_redirect_uri is refused
  const badUrl = new URL(server.endpoint('logout'));
  badUrl.search = new URLSearchParams({ id_token_hint: body.id_token, post_logout_redirect_uri: 'http://evil.example/' });
  const bad = await jar.fetch(badUrl);
  assert.equal(bad.status, 400);

  const url = new URL(server.endpoint('logout'));
  url.search = new URLSearchParams({
    id_token_hint: body.id_token, post_logout_redirect_uri: 'http://127.0.0.1:3000/', state: 'bye',
  });
  const res = await jar.fetch(url);
  assert.equal(res.status, 302);
  assert.equal(res.headers.get('location'), 'http://127.0.0.1:3000/?state=bye');

  // the provider session is gone: a new authorization request asks for the login again
  const again = new URL(server.endpoint('auth'));
  again.search = new URLSearchParams({
    client_id: CLIENT_ID, response_type: 'code', scope: 'openid', redirect_uri: CALLBACK,
    code_challenge: pkce().challenge, code_challenge_method: 'S256', prompt: 'none',
  });
  const r = await jar.fetch(again);
  assert.equal(r.status, 303);
  assert.equal(new URL(r.headers.get('location')).searchParams.get('error'), 'login_required');

  // and its refresh token no longer works
  const refreshed = await tokenRequest(server, { grant_type: 'refresh_token', refresh_token: body.refresh_token });
  assert.equal(refreshed.status, 400);
});

test('while logged in, a second authorization request skips the login page (SSO)', async () => {
  const first = await codeFor();
  const { challenge } = pkce();
  const auth = new URL(server.endpoint('auth'));
  auth.search = new URLSearchParams({
    client_id: CLIENT_ID, response_type: 'code', scope: 'openid profile email', redirect_uri: CALLBACK,
    code_challenge: challenge, code_challenge_method: 'S256', state: 'two',
  });
  const res = await first.jar.fetch(auth);
  assert.equal(res.status, 303);
  const loc = new URL(res.headers.get('location'));
  assert.equal(`${loc.origin}${loc.pathname}`, CALLBACK);
  assert.ok(loc.searchParams.get('code'));
});

test('post-logout URIs from a plain array field work too', async () => {
  const flow = await codeFor({ clientId: 'browser-only', redirectUri: 'http://127.0.0.1:4000/cb' });
  const { body, status } = await tokenRequest(server, {
    grant_type: 'authorization_code', code: flow.code, redirect_uri: 'http://127.0.0.1:4000/cb', code_verifier: flow.verifier,
  }, { clientId: 'browser-only', clientSecret: 'browser-only-secret' });
  assert.equal(status, 200);
  const url = new URL(server.endpoint('logout'));
  url.search = new URLSearchParams({ id_token_hint: body.id_token, post_logout_redirect_uri: 'http://127.0.0.1:4000/bye' });
  const res = await flow.jar.fetch(url);
  assert.equal(res.status, 302);
  assert.equal(res.headers.get('location'), 'http://127.0.0.1:4000/bye');
});

test('logout with id_token_hint also redirects when the provider session is already gone', async () => {
  const flow = await codeFor();
  const { body } = await tokenRequest(server, {
    grant_type: 'authorization_code', code: flow.code, redirect_uri: CALLBACK, code_verifier: flow.verifier,
  });
  const url = new URL(server.endpoint('logout'));
  url.search = new URLSearchParams({ id_token_hint: body.id_token, post_logout_redirect_uri: 'http://127.0.0.1:3000/' });
  const res = await fetch(url, { redirect: 'manual' }); // no cookies
  assert.equal(res.status, 302);
  assert.equal(res.headers.get('location'), 'http://127.0.0.1:3000/');
});

test('login_hint pre-fills the username', async () => {
  const jar = new CookieJar();
  const auth = new URL(server.endpoint('auth'));
  auth.search = new URLSearchParams({
    client_id: CLIENT_ID, response_type: 'code', scope: 'openid', redirect_uri: CALLBACK,
    code_challenge: pkce().challenge, code_challenge_method: 'S256', login_hint: 'bob',
  });
  const res = await jar.fetch(auth);
  const page = await (await jar.fetch(new URL(res.headers.get('location'), server.origin))).text();
  assert.match(page, /id="username"[^>]*value="bob"/);
});
