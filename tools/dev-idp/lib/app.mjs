// The HTTP server: realm paths go to oidc-provider (mounted under
// /realms/REALM), plus the login page, Keycloak's userinfo, the realm info
// document and, with --test-controls, the /_dev/ test endpoints.
import http from 'node:http';
import { createPublicKey, randomUUID } from 'node:crypto';

import { createLocalJWKSet, jwtVerify, SignJWT, importJWK } from 'jose';

import { loadRealm } from './realm.mjs';
import { createAdminApi, userRepresentation } from './admin.mjs';
import { usersPage } from './pages.mjs';
import { KeyStoreFile, publicJwk, generateSigningKey } from './keys.mjs';
import {
  buildProvider, loginHandler, keycloakAccessTokenClaims, userClaims, KC,
} from './provider.mjs';
import { readBody } from '../../shared/http.mjs';

const MAX_BODY = 64 * 1024;


function json(res, status, body, headers = {}) {
  res.writeHead(status, {
    'content-type': 'application/json', 'cache-control': 'no-store', ...headers,
  });
  res.end(JSON.stringify(body));
}

export async function startIdp({
  port = 8180,
  realmFile,
  dataDir,
  accessTokenLifetime = 300,
  testControls = false,
  log = () => {},
}) {
  const realm = loadRealm(realmFile);
  const keyFile = new KeyStoreFile(dataDir);
  await keyFile.load();

  let handler = (req, res) => {
    res.writeHead(503);
    res.end();
  };
  const server = http.createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch((err) => {
      log(`dev-idp: ${req.method} ${req.url}: ${err.stack || err}`);
      if (!res.headersSent) json(res, err.status || 500, { error: 'server_error', error_description: err.message });
      else res.end();
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actualPort = server.address().port;
  const base = `http://127.0.0.1:${actualPort}`;
  const issuer = `${base}/realms/${realm.name}`;

  const verifyAccessToken = async (token) => {
    const jwks = createLocalJWKSet({ keys: keyFile.keys.map(publicJwk) });
    const { payload } = await jwtVerify(token, jwks, { issuer, algorithms: ['RS256'] });
    if (payload.typ !== 'Bearer') throw new Error('not an access token');
    return payload;
  };

  const adminApi = createAdminApi({ realm, verifyAccessToken, origin: base });

  const {
    provider, setKeys, loginPath, realmPath, stop,
  } = buildProvider({
    issuer, realm, keys: keyFile.keys, accessTokenLifetime, verifyAccessToken,
  });
  provider.on('server_error', (ctx, err) => log(`dev-idp server_error: ${err.stack || err}`));
  const providerCallback = provider.callback();
  const handleLogin = loginHandler({ provider, realm, loginPath });

  // Keycloak's userinfo accepts its (JWT) access tokens.
  async function userinfo(req, res, body) {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'access-control-allow-origin': req.headers.origin || '*',
        'access-control-allow-headers': 'authorization',
        'access-control-allow-methods': 'GET, POST',
      });
      res.end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'POST') {
      res.writeHead(405, { allow: 'GET, POST' });
      res.end();
      return;
    }
    const cors = req.headers.origin ? { 'access-control-allow-origin': req.headers.origin } : {};
    let token;
    const auth = req.headers.authorization || '';
    if (/^bearer /i.test(auth)) token = auth.slice(7).trim();
    else if (req.method === 'POST') token = new URLSearchParams(body).get('access_token') || undefined;
    if (!token) {
      json(res, 401, { error: 'invalid_request', error_description: 'Missing token' }, {
        'www-authenticate': `Bearer realm="${realm.name}"`, ...cors,
      });
      return;
    }
    let payload;
    try {
      payload = await verifyAccessToken(token);
    } catch (err) {
      json(res, 401, { error: 'invalid_token', error_description: 'Token verification failed' }, {
        'www-authenticate': `Bearer realm="${realm.name}", error="invalid_token", error_description="Token verification failed"`,
        ...cors,
      });
      return;
    }
    const user = realm.findUserById(payload.sub);
    if (!user || !user.enabled) {
      json(res, 401, { error: 'invalid_token', error_description: 'User not found or disabled' }, cors);
      return;
    }
    const scopes = new Set(String(payload.scope || '').split(' '));
    const all = userClaims(user);
    const out = { sub: all.sub };
    if (scopes.has('email')) Object.assign(out, { email_verified: all.email_verified });
    if (scopes.has('profile')) {
      Object.assign(out, {
        name: all.name, preferred_username: all.preferred_username, given_name: all.given_name, family_name: all.family_name,
      });
    }
    if (scopes.has('email')) out.email = all.email;
    json(res, 200, out, cors);
  }

  // GET /realms/REALM, as Keycloak serves it.
  function realmInfo(res) {
    const publicKey = createPublicKey({ key: publicJwk(keyFile.current), format: 'jwk' })
      .export({ type: 'spki', format: 'der' }).toString('base64');
    json(res, 200, {
      realm: realm.name,
      public_key: publicKey,
      'token-service': `${issuer}/protocol/openid-connect`,
      'account-service': `${issuer}/account`,
      'tokens-not-before': 0,
    });
  }

  let foreignKey; // a key this provider never publishes, for "signed by another key" tests

  // The JWKS endpoint as a slow network makes it (POST /_dev/jwks), and how
  // often it was asked, for tests of the relying party's key cache.
  const jwksControl = { delayMs: 0, requests: 0 };

  async function devControls(req, res, path, url) {
    if (path.startsWith('/_dev/admin-api/')) {
      const raw = req.method === 'POST' ? await readBody(req, MAX_BODY) : '';
      let body = {};
      try {
        if (raw.trim()) body = JSON.parse(raw);
      } catch {
        json(res, 400, { error: 'invalid_request', error_description: 'body must be JSON' });
        return;
      }
      const answer = adminApi.control(req.method, path, body && typeof body === 'object' ? body : {});
      if (answer) json(res, answer.status, answer.body);
      else json(res, 404, { error: 'not_found' });
      return;
    }
    if (req.method !== 'POST') {
      json(res, 405, { error: 'method_not_allowed' }, { allow: 'POST' });
      return;
    }
    const raw = await readBody(req, MAX_BODY);
    let body = {};
    if (raw.trim()) {
      try {
        body = JSON.parse(raw);
      } catch {
        json(res, 400, { error: 'invalid_request', error_description: 'body must be JSON' });
        return;
      }
    }
    if (path === '/_dev/rotate-keys') {
      let keepOld = body.keep_old ?? body.keepOld;
      if (url.searchParams.has('keep_old')) keepOld = url.searchParams.get('keep_old');
      keepOld = !(keepOld === false || keepOld === 'false' || keepOld === '0');
      const { current, previous } = await keyFile.rotate({ keepOld });
      setKeys(keyFile.keys);
      log(`dev-idp: signing key rotated to ${current.kid} (old keys ${keepOld ? 'kept' : 'dropped'})`);
      json(res, 200, {
        kid: current.kid,
        previous_kid: previous[0]?.kid,
        keep_old: keepOld,
        jwks_kids: keyFile.keys.map((k) => k.kid),
      });
      return;
    }
    if (path === '/_dev/jwks') {
      if (body.delay_ms !== undefined) {
        const ms = body.delay_ms;
        if (!Number.isInteger(ms) || ms < 0 || ms > 60000) {
          json(res, 400, { error: 'invalid_request', error_description: '"delay_ms" must be an integer from 0 to 60000' });
          return;
        }
        jwksControl.delayMs = ms;
        log(`dev-idp: JWKS answers delayed by ${ms} ms`);
      }
      json(res, 200, { delay_ms: jwksControl.delayMs, requests: jwksControl.requests });
      return;
    }
    if (path === '/_dev/mint') {
      const user = body.user_id ? realm.findUserById(body.user_id) : realm.findUserByLogin(body.username);
      if (!user) {
        json(res, 400, { error: 'invalid_request', error_description: 'unknown "username" / "user_id"' });
        return;
      }
      const clientId = body.client_id || realm.clients.find((c) => !c.publicClient)?.clientId;
      const client = realm.findClient(clientId) || {
        clientId, webOrigins: [],
      };
      const now = Math.floor(Date.now() / 1000);
      const lifetime = Number.isFinite(body.expires_in) ? body.expires_in : accessTokenLifetime;
      const claims = keycloakAccessTokenClaims({
        issuer,
        user,
        client,
        scope: body.scope || 'openid profile email',
        sid: randomUUID(),
        jti: randomUUID(),
        iat: now,
        exp: now + lifetime,
      });
      for (const [k, v] of Object.entries(body.claims || {})) {
        if (v === null) delete claims[k];
        else claims[k] = v;
      }
      let jwk = keyFile.current;
      if (body.key === 'foreign') {
        foreignKey ||= await generateSigningKey();
        jwk = foreignKey;
      }
      else if (body.key && body.key !== 'current') {
        json(res, 400, { error: 'invalid_request', error_description: '"key" must be "current" or "foreign"' });
        return;
      }
      const kid = body.kid || jwk.kid;
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid })
        .sign(await importJWK(jwk, 'RS256'));
      json(res, 200, {
        access_token: token, token_type: 'Bearer', kid, claims,
      });
      return;
    }
    json(res, 404, { error: 'not_found' });
  }

  handler = async (req, res) => {
    const url = new URL(req.url, base);
    const path = url.pathname;

    if (path.startsWith('/_dev/')) {
      if (!testControls) {
        json(res, 404, { error: 'not_found', error_description: 'test controls are off (start with --test-controls)' });
        return;
      }
      await devControls(req, res, path, url);
      return;
    }

    if (path === realmPath || path === `${realmPath}/`) {
      realmInfo(res);
      return;
    }

    if (path.startsWith('/admin/')) {
      const body = req.method === 'GET' || req.method === 'HEAD' ? '' : await readBody(req, MAX_BODY);
      const answer = await adminApi.handle(req, url, body);
      if (answer.status === 204 || answer.status === 304 || answer.body === undefined) {
        // no content (201 Created has a Location header and no body)
        res.writeHead(answer.status, { 'cache-control': 'no-cache', ...answer.headers });
        res.end();
      } else {
        json(res, answer.status, answer.body, answer.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
      }
      return;
    }

    // A look at the users and their attributes (dev tool only, no login).
    if (path === `${realmPath}/dev/users`) {
      const users = realm.users.map((u) => userRepresentation(u, realm));
      if (url.searchParams.get('format') === 'json') json(res, 200, users);
      else {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(usersPage({ realm: realm.displayName, users }));
      }
      return;
    }

    if (path.startsWith(`${loginPath}/`)) {
      const uid = decodeURIComponent(path.slice(loginPath.length + 1));
      const body = req.method === 'POST' ? await readBody(req, MAX_BODY) : '';
      await handleLogin(req, res, uid, body);
      return;
    }

    if (path === `${realmPath}${KC.userinfo}`) {
      const body = req.method === 'POST' ? await readBody(req, MAX_BODY) : '';
      await userinfo(req, res, body);
      return;
    }

    if (path === `${realmPath}${KC.certs}`) {
      jwksControl.requests += 1;
      if (jwksControl.delayMs > 0) {
        const delay = jwksControl.delayMs;
        await new Promise((resolve) => { setTimeout(resolve, delay).unref(); });
      }
    }

    if (path.startsWith(`${realmPath}/`)) {
      req.originalUrl = req.url;
      req.url = req.url.slice(realmPath.length);
      await providerCallback(req, res);
      return;
    }

    json(res, 404, { error: 'not_found', error_description: `this server serves the realm at ${issuer}` });
  };

  return {
    server,
    port: actualPort,
    issuer,
    realm,
    provider,
    close: () => new Promise((resolve) => {
      stop();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
