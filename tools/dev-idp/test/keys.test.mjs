import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import {
  startServer, tempDir, cleanup, passwordGrant, verifyJwt, decodeJwt, USERS, SHIPPED_REALM,
} from './helpers.mjs';

const dirs = [];
const servers = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  dirs.forEach(cleanup);
});

async function start(opts) {
  const s = await startServer(opts);
  servers.push(s);
  return s;
}
function dir() {
  const d = tempDir();
  dirs.push(d);
  return d;
}
async function kids(server) {
  const res = await fetch(server.endpoint('certs'));
  assert.equal(res.status, 200);
  const { keys } = await res.json();
  for (const k of keys) {
    assert.equal(k.kty, 'RSA');
    assert.equal(k.d, undefined, 'no private parts in the JWKS');
  }
  return keys.map((k) => k.kid);
}

let plain;
async function plainServer() {
  plain ||= await start({
    dataDir: dir(), realmFile: SHIPPED_REALM, cli: true, extra: ['--access-token-lifetime', '60'],
  });
  return plain;
}

test('the signing key persists across restarts (same kid)', async () => {
  const dataDir = dir();
  const first = await start({ dataDir });
  const [kid] = await kids(first);
  const token = (await passwordGrant(first, { username: 'alice', password: USERS.alice.password })).body.access_token;
  assert.equal(decodeJwt(token).header.kid, kid);
  await first.stop();

  const file = join(dataDir, 'signing-keys.json');
  assert.equal(statSync(file).mode & 0o077, 0, 'key file is private');
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).keys[0].kid, kid);

  const second = await start({ dataDir });
  assert.deepEqual(await kids(second), [kid]);
  const again = (await passwordGrant(second, { username: 'alice', password: USERS.alice.password })).body.access_token;
  assert.equal(decodeJwt(again).header.kid, kid);
  // a token signed before the restart still verifies against the restarted provider's JWKS
  await verifyJwt({ endpoint: second.endpoint, issuer: first.issuer }, token);
});

test('the command line prints its ready line; discovery and realm info have Keycloak\'s shape', async () => {
  const server = await plainServer();
  assert.match(server.issuer, /^http:\/\/127\.0\.0\.1:\d+\/realms\/ops-center$/);
  const res = await fetch(`${server.issuer}/.well-known/openid-configuration`);
  assert.equal(res.status, 200);
  const d = await res.json();
  const p = `${server.issuer}/protocol/openid-connect`;
  assert.equal(d.issuer, server.issuer);
  assert.equal(d.authorization_endpoint, `${p}/auth`);
  assert.equal(d.token_endpoint, `${p}/token`);
  assert.equal(d.userinfo_endpoint, `${p}/userinfo`);
  assert.equal(d.jwks_uri, `${p}/certs`);
  assert.equal(d.end_session_endpoint, `${p}/logout`);
  assert.equal(d.introspection_endpoint, `${p}/token/introspect`);
  assert.equal(d.revocation_endpoint, `${p}/revoke`);
  assert.ok(d.grant_types_supported.includes('password'));
  assert.ok(d.grant_types_supported.includes('refresh_token'));
  assert.deepEqual(d.code_challenge_methods_supported, ['S256']);
  assert.ok(d.token_endpoint_auth_methods_supported.includes('client_secret_basic'));
  assert.ok(d.token_endpoint_auth_methods_supported.includes('client_secret_post'));
  assert.ok(d.id_token_signing_alg_values_supported.includes('RS256'));

  const info = await (await fetch(server.issuer)).json();
  assert.equal(info.realm, 'ops-center');
  assert.equal(info['token-service'], p);
  assert.ok(info.public_key);

  // --access-token-lifetime
  const { body } = await passwordGrant(server, { username: 'bob', password: USERS.bob.password });
  assert.equal(body.expires_in, 60);
  const { payload } = await verifyJwt(server, body.access_token);
  assert.equal(payload.exp - payload.iat, 60);
  assert.equal(decodeJwt(body.id_token).payload.exp - decodeJwt(body.id_token).payload.iat, 60);

  const elsewhere = await fetch(`${server.origin}/realms/other/.well-known/openid-configuration`);
  assert.equal(elsewhere.status, 404);
});
test('/_dev endpoints are 404 without --test-controls', async () => {
  const server = await plainServer();
  for (const path of ['/_dev/rotate-keys', '/_dev/mint']) {
    const res = await fetch(`${server.origin}${path}`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 404, path);
  }
});

