// Shared helpers: start the real server as a child process on a free port,
// a tiny cookie jar, PKCE, JWT checks against the served JWKS.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { createRemoteJWKSet, jwtVerify } from 'jose';

import { startIdp } from '../lib/app.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const SERVER = resolve(here, '..', 'server.mjs');
export const SHIPPED_REALM = resolve(here, '..', 'realm-export.json');

export const CLIENT_ID = 'ops-center-credits';
export const CLIENT_SECRET = 'dev-only-client-secret';
export const BASIC = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;

export const USERS = {
  admin: { id: '8f3c2a71-5d4e-4b6a-9c1f-2e7d8a9b0c11', password: 'admin-password' },
  alice: { id: '4b1e9f62-3a7c-4d28-8e5f-6c0a1b2d3e41', password: 'alice-password' },
  bob: { id: 'c7d2e843-9b1f-4a6e-b3c5-0f8e7d6c5b52', password: 'bob-password' },
};

export function tempDir(prefix = 'dev-idp-test-') {
  return mkdtempSync(join(tmpdir(), prefix));
}

// The shipped realm plus test-only clients and users, written to a temp file.
export function writeTestRealm(dir) {
  const realm = JSON.parse(readFileSync(SHIPPED_REALM, 'utf8'));
  realm.clients.push(
    {
      clientId: 'browser-only',
      secret: 'browser-only-secret',
      publicClient: false,
      standardFlowEnabled: true,
      directAccessGrantsEnabled: false,
      redirectUris: ['http://127.0.0.1:4000/cb'],
      postLogoutRedirectUris: ['http://127.0.0.1:4000/bye'],
    },
    {
      clientId: 'billing-service',
      secret: 'billing-service-secret',
      standardFlowEnabled: false,
      serviceAccountsEnabled: true,
    },
  );
  realm.users.push({
    id: '0d5f0c7e-1111-4c1a-8a1a-000000000001',
    username: 'carol',
    enabled: false,
    email: 'carol@example.com',
    firstName: 'Carol',
    lastName: 'Disabled',
    credentials: [{ type: 'password', value: 'carol-password' }],
    realmRoles: ['default-roles-ops-center'],
  });
  const file = join(dir, 'realm.json');
  writeFileSync(file, JSON.stringify(realm));
  return file;
}

function handle(issuer, extra) {
  return {
    issuer,
    origin: new URL(issuer).origin,
    endpoint: (name) => `${issuer}/protocol/openid-connect/${name}`,
    ...extra,
  };
}

// Starts the provider. By default inside the test process (oidc-provider is
// slow to load, so each test file loads it once); with `cli: true` as the
// real command line, `node server.mjs --port 0 ...`, waiting for its ready line.
export async function startServer({
  dataDir, realmFile = SHIPPED_REALM, testControls = false, cli = false, extra = [],
} = {}) {
  if (!cli) {
    const logs = [];
    const idp = await startIdp({
      port: 0, realmFile, dataDir, testControls, log: (line) => logs.push(line),
    });
    return handle(idp.issuer, { stderr: () => logs.join('\n'), stop: () => idp.close() });
  }
  const args = [SERVER, '--port', '0', '--data-dir', dataDir, '--realm-file', realmFile, ...extra];
  if (testControls) args.push('--test-controls');
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const issuer = await new Promise((resolvePromise, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 10_000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/^dev-idp listening on (http:\/\/127\.0\.0\.1:\d+\/realms\/[^\s]+)$/m);
      if (m) {
        clearTimeout(timer);
        resolvePromise(m[1]);
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${stderr}`));
    });
  });
  return handle(issuer, {
    proc,
    stderr: () => stderr,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  });
}

export function cleanup(dir) {
  rmSync(dir, { recursive: true, force: true });
}

export class CookieJar {
  constructor() {
    this.cookies = new Map();
  }

  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*expires=/i.test(a) && new Date(a.split('=')[1]) < new Date());
      if (!value || expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async fetch(url, init = {}) {
    const headers = new Headers(init.headers || {});
    if (this.cookies.size) headers.set('cookie', this.header());
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.store(res);
    return res;
  }
}

export function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

export function decodeJwt(token) {
  const [h, p] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()),
  };
}

export async function verifyJwt(server, token, options = {}) {
  const jwks = createRemoteJWKSet(new URL(server.endpoint('certs')));
  return jwtVerify(token, jwks, { issuer: server.issuer, algorithms: ['RS256'], ...options });
}

export async function passwordGrant(server, { username, password, scope = 'openid profile email', clientId = CLIENT_ID, clientSecret = CLIENT_SECRET } = {}) {
  const res = await fetch(server.endpoint('token'), {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'password', username, password, scope,
    }),
  });
  return { status: res.status, body: await res.json() };
}

export async function tokenRequest(server, params, { auth = 'basic', clientId = CLIENT_ID, clientSecret = CLIENT_SECRET } = {}) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  const body = new URLSearchParams(params);
  if (auth === 'basic') headers.authorization = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
  else if (auth === 'post') {
    body.set('client_id', clientId);
    body.set('client_secret', clientSecret);
  }
  const res = await fetch(server.endpoint('token'), { method: 'POST', headers, body });
  return { status: res.status, body: await res.json() };
}

// Authorization code flow through the login page, as a browser would.
export async function loginThroughPage(server, {
  username = 'alice', password = USERS.alice.password, redirectUri = 'http://127.0.0.1:3000/auth/callback',
  clientId = CLIENT_ID, jar = new CookieJar(), scope = 'openid profile email',
} = {}) {
  const { verifier, challenge } = pkce();
  const state = randomBytes(8).toString('hex');
  const nonce = randomBytes(8).toString('hex');
  const auth = new URL(server.endpoint('auth'));
  auth.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    scope,
    redirect_uri: redirectUri,
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  let res = await jar.fetch(auth);
  if (res.status !== 303 && res.status !== 302) {
    return { res, jar, verifier, state, nonce };
  }
  const loginUrl = new URL(res.headers.get('location'), server.origin);
  res = await jar.fetch(loginUrl);
  const page = await res.text();
  const action = new URL(page.match(/<form id="kc-form-login"[^>]*action="([^"]+)"/)[1].replace(/&amp;/g, '&'), server.origin);
  res = await jar.fetch(action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password }),
  });
  if (res.status !== 303) return { res, jar, verifier, state, nonce, page, loginUrl };
  // resume the authorization request until it redirects to the client
  let location = new URL(res.headers.get('location'), server.origin);
  for (let i = 0; i < 5 && location.origin === server.origin; i += 1) {
    res = await jar.fetch(location);
    location = new URL(res.headers.get('location'), server.origin);
  }
  return { res, jar, verifier, state, nonce, page, location };
}
