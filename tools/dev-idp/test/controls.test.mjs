import { test, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  startServer, tempDir, cleanup, passwordGrant, verifyJwt, decodeJwt, USERS, CLIENT_ID,
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

let controlled;
async function controlledServer() {
  controlled ||= await start({ dataDir: dir(), testControls: true });
  return controlled;
}

test('/_dev/mint signs arbitrary claims with the current key', async () => {
  const server = await controlledServer();
  const past = Math.floor(Date.now() / 1000) - 3600;
  const mint = async (body) => {
    const res = await fetch(`${server.origin}/_dev/mint`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };

  const expired = await mint({ username: 'alice', claims: { exp: past, iat: past - 300 } });
  assert.equal(expired.status, 200);
  const [kid] = await kids(server);
  assert.equal(decodeJwt(expired.body.access_token).header.kid, kid);
  // correctly signed ...
  const { payload } = await verifyJwt(server, expired.body.access_token, { currentDate: new Date((past - 10) * 1000) });
  assert.equal(payload.sub, USERS.alice.id);
  assert.equal(payload.azp, CLIENT_ID);
  assert.equal(payload.typ, 'Bearer');
  assert.deepEqual(payload.realm_access, { roles: ['default-roles-ops-center', 'offline_access', 'uma_authorization'] });
  // ... but expired
  await assert.rejects(verifyJwt(server, expired.body.access_token), { code: 'ERR_JWT_EXPIRED' });

  const other = await mint({ username: 'admin', claims: { azp: 'someone-else', iss: 'http://127.0.0.1:1/realms/other', extra: null } });
  assert.equal(decodeJwt(other.body.access_token).payload.azp, 'someone-else');
  assert.ok(decodeJwt(other.body.access_token).payload.realm_access.roles.includes('admin'));

  const removed = await mint({ username: 'bob', claims: { realm_access: null } });
  assert.equal(decodeJwt(removed.body.access_token).payload.realm_access, undefined);

  const foreign = await mint({ username: 'alice', key: 'foreign' });
  assert.equal(decodeJwt(foreign.body.access_token).header.kid === kid, false);
  await assert.rejects(verifyJwt(server, foreign.body.access_token));
  const foreignSameKid = await mint({ username: 'alice', key: 'foreign', kid });
  assert.equal(decodeJwt(foreignSameKid.body.access_token).header.kid, kid);
  await assert.rejects(verifyJwt(server, foreignSameKid.body.access_token));

  assert.equal((await mint({ username: 'nobody' })).status, 400);
});

test('/_dev/rotate-keys changes the kid, keeps or drops the old key', async () => {
  const dataDir = dir();
  const server = await start({ dataDir, testControls: true });
  const [before] = await kids(server);
  const oldToken = (await passwordGrant(server, { username: 'alice', password: USERS.alice.password })).body.access_token;

  const rotate = async (body) => {
    const res = await fetch(`${server.origin}/_dev/rotate-keys`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    assert.equal(res.status, 200);
    return res.json();
  };

  const r1 = await rotate({});
  assert.notEqual(r1.kid, before);
  assert.equal(r1.previous_kid, before);
  assert.deepEqual(await kids(server), [r1.kid, before]);
  const newToken = (await passwordGrant(server, { username: 'alice', password: USERS.alice.password })).body;
  assert.equal(decodeJwt(newToken.access_token).header.kid, r1.kid);
  assert.equal(decodeJwt(newToken.id_token).header.kid, r1.kid);
  await verifyJwt(server, newToken.access_token);
  await verifyJwt(server, oldToken); // old key still published

  const r2 = await rotate({ keep_old: false });
  assert.deepEqual(await kids(server), [r2.kid]);
  await assert.rejects(verifyJwt(server, oldToken));
  await assert.rejects(verifyJwt(server, newToken.access_token));

  // the rotated key is what a restart uses
  await server.stop();
  const restarted = await start({ dataDir, testControls: true });
  assert.deepEqual(await kids(restarted), [r2.kid]);
});


test('/_dev/jwks delays the JWKS and counts its requests', async () => {
  const server = await start({ dataDir: dir(), testControls: true });
  const control = async (body) => {
    const res = await fetch(`${server.origin}/_dev/jwks`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };

  assert.deepEqual((await control({})).body, { delay_ms: 0, requests: 0 });
  await kids(server);
  assert.deepEqual((await control({})).body, { delay_ms: 0, requests: 1 });

  assert.deepEqual((await control({ delay_ms: 400 })).body, { delay_ms: 400, requests: 1 });
  const started = Date.now();
  const slow = Promise.all([kids(server), kids(server)]);
  // Counted on arrival, while the answers are still held back.
  await new Promise((resolve) => { setTimeout(resolve, 150); });
  assert.equal((await control({})).body.requests, 3);
  const [first, second] = await slow;
  assert.ok(Date.now() - started >= 400, 'the JWKS answer waited');
  assert.deepEqual(first, second);
  // Other endpoints are not delayed.
  const discovery = Date.now();
  assert.equal((await fetch(`${server.issuer}/.well-known/openid-configuration`)).status, 200);
  assert.ok(Date.now() - discovery < 400);

  assert.deepEqual((await control({ delay_ms: 0 })).body, { delay_ms: 0, requests: 3 });
  for (const bad of [-1, 1.5, '100', 60001]) {
    assert.equal((await control({ delay_ms: bad })).status, 400, JSON.stringify(bad));
  }
});
