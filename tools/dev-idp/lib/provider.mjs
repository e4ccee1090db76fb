// oidc-provider v8 configured in Keycloak's shape.
import { randomBytes, randomUUID } from 'node:crypto';

import Provider, { errors } from 'oidc-provider';
// Internal helper: swaps the provider's signing keys in place (key rotation
// without restarting). oidc-provider is pinned to an exact version.
import initializeKeystore from 'oidc-provider/lib/helpers/initialize_keystore.js';

import createMemoryAdapter from './memory_adapter.mjs';
import { toClientMetadata, uriMatches } from './realm.mjs';
import { loginPage, messagePage } from './pages.mjs';

export const KC = {
  auth: '/protocol/openid-connect/auth',
  token: '/protocol/openid-connect/token',
  userinfo: '/protocol/openid-connect/userinfo',
  certs: '/protocol/openid-connect/certs',
  logout: '/protocol/openid-connect/logout',
  introspect: '/protocol/openid-connect/token/introspect',
  revoke: '/protocol/openid-connect/revoke',
  par: '/protocol/openid-connect/ext/par/request',
  loginActions: '/login-actions/authenticate',
};

// Scopes Keycloak knows by default (client scopes). Only profile and email
// carry ID token claims; "roles" puts realm_access into the access token,
// which this provider always does, as Keycloak's default client scopes do.
export const SCOPES = ['openid', 'offline_access', 'profile', 'email', 'roles', 'web-origins', 'acr', 'basic', 'address', 'phone'];
// Keycloak applies its default client scopes whether or not they are requested.
const DEFAULT_SCOPES = ['profile', 'email'];

// Internal resource indicator: every access token is issued for it, which is
// what makes oidc-provider issue JWT access tokens. Its audience is "account",
// as in Keycloak's default access tokens.
export const RESOURCE = 'urn:dev-idp:keycloak-access-token';

const ACCOUNT_CLIENT_ROLES = ['manage-account', 'manage-account-links', 'view-profile'];

export function userClaims(user) {
  return {
    sub: user.id,
    email_verified: user.emailVerified,
    name: user.name,
    preferred_username: user.username,
    given_name: user.firstName || undefined,
    family_name: user.lastName || undefined,
    email: user.email,
  };
}

// The claims Keycloak (default client scopes) puts into an access token, in
// Keycloak's order.
// resource_access: the user's client roles (composites expanded), plus the
// account client's roles that Keycloak's default roles give everyone.
function resourceAccessOf(user) {
  const resourceAccess = {};
  for (const [clientId, roles] of Object.entries(user.clientRoles)) resourceAccess[clientId] = { roles: [...roles] };
  if (!resourceAccess.account) resourceAccess.account = { roles: ACCOUNT_CLIENT_ROLES };
  return resourceAccess;
}

export function keycloakAccessTokenClaims({
  issuer, user, client, scope, sid, jti, iat, exp, authTime,
}) {
  const resourceAccess = resourceAccessOf(user);
  const { sub, ...profile } = userClaims(user);
  return {
    exp,
    iat,
    ...(authTime ? { auth_time: authTime } : {}),
    jti,
    iss: issuer,
    aud: 'account',
    sub,
    typ: 'Bearer',
    azp: client.clientId,
    sid,
    acr: '1',
    'allowed-origins': allowedOrigins(client),
    realm_access: { roles: [...user.realmRoles] },
    resource_access: resourceAccess,
    scope,
    ...profile,
  };
}

// Keycloak's web origins: "+" stands for the origins of the valid redirect URIs.
function allowedOrigins(client) {
  const out = new Set();
  for (const origin of client.webOrigins) {
    if (origin !== '+') {
      out.add(origin);
      continue;
    }
    for (const uri of client.redirectUris) {
      try {
        const { origin: o } = new URL(uri.replace(/\*$/, ''));
        if (o !== 'null') out.add(o);
      } catch {
        // not a URL (e.g. a bare wildcard)
      }
    }
  }
  return [...out];
}

function accessTokenScope(requested) {
  const set = new Set(requested);
  for (const s of DEFAULT_SCOPES) set.add(s);
  return SCOPES.filter((s) => set.has(s)).join(' ');
}

export function buildProvider({
  issuer, realm, keys, accessTokenLifetime, verifyAccessToken, cookieKeys = [randomBytes(32).toString('base64url')],
}) {
  const realmPath = new URL(issuer).pathname;
  const loginPath = `${realmPath}${KC.loginActions}`;
  const refreshTokenLifetime = 1800; // Keycloak: SSO Session Idle (30 min)
  const sessionLifetime = 36000; // Keycloak: SSO Session Max (10 h)

  const resourceServerInfo = () => ({
    scope: SCOPES.join(' '),
    audience: 'account',
    accessTokenTTL: accessTokenLifetime,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'RS256' } },
  });

  const clientPatterns = new Map(realm.clients.map((c) => [c.clientId, c]));

  const Adapter = createMemoryAdapter();
  const configuration = {
    adapter: Adapter,
    clients: realm.clients.map(toClientMetadata),
    jwks: { keys },
    cookies: {
      keys: cookieKeys,
      // Keycloak's cookie names, scoped to the realm path so they never mix
      // with the app's own cookies on the same host.
      names: {
        session: 'KEYCLOAK_IDENTITY',
        interaction: 'AUTH_SESSION_ID',
        resume: 'AUTH_SESSION_ID_RESUME',
      },
      long: { httpOnly: true, sameSite: 'lax', path: `${realmPath}/` },
      short: { httpOnly: true, sameSite: 'lax' }, // path: the login page's / the resume URL's
    },
    routes: {
      authorization: KC.auth,
      token: KC.token,
      userinfo: KC.userinfo,
      jwks: KC.certs,
      end_session: KC.logout,
      introspection: KC.introspect,
      revocation: KC.revoke,
      pushed_authorization_request: KC.par,
    },
    scopes: SCOPES,
    claims: {
      openid: ['sub'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    responseTypes: ['code'],
    pkce: { methods: ['S256'], required: () => true },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    ttl: {
      AccessToken: accessTokenLifetime,
      IdToken: accessTokenLifetime,
      AuthorizationCode: 60,
      Interaction: 1800,
      Session: sessionLifetime,
      Grant: sessionLifetime,
      RefreshToken: refreshTokenLifetime,
      ClientCredentials: accessTokenLifetime,
    },
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    // Keycloak's default ("Revoke Refresh Token" off): a refresh token may be reused.
    rotateRefreshToken: false,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true }, // clients with serviceAccountsEnabled
      introspection: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          ctx.body = messagePageWithForm(realm.displayName, form);
        },
        async postLogoutSuccessSource(ctx) {
          ctx.body = messagePage({
            realm: realm.displayName, title: 'You are logged out', message: 'You are logged out', status: 'success',
          });
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => RESOURCE,
        useGrantedResource: async () => true,
        getResourceServerInfo: async () => resourceServerInfo(),
      },
    },
    async findAccount(ctx, sub) {
      const user = realm.findUserById(sub);
      if (!user || !user.enabled) return undefined;
      return {
        accountId: user.id,
        async claims() {
          return userClaims(user);
        },
      };
    },
    // Implicit consent, like Keycloak's default ("Consent required" off):
    // everything the client asks for is granted once the user is logged in.
    async loadExistingGrant(ctx) {
      const { oidc } = ctx;
      const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
      let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
      if (!grant || grant.accountId !== oidc.session.accountId) {
        grant = new oidc.provider.Grant({ accountId: oidc.session.accountId, clientId: oidc.client.clientId });
      }
      grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
      if (oidc.requestParamClaims?.size) grant.addOIDCClaims([...oidc.requestParamClaims]);
      for (const [indicator, rs] of Object.entries(oidc.resourceServers || {})) {
        const scopes = [...oidc.requestParamScopes].filter((s) => rs.scopes.has(s));
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      await grant.save();
      return grant;
    },
    interactions: {
      url: async (ctx, interaction) => `${loginPath}/${interaction.uid}`,
    },
    clientBasedCORS(ctx, origin, client) {
      const c = clientPatterns.get(client.clientId);
      return !!c && (c.webOrigins.includes('*') || allowedOrigins(c).includes(origin));
    },
    async renderError(ctx, out, error) {
      let message = out.error_description || out.error;
      if (out.error === 'invalid_redirect_uri') message = 'Invalid parameter: redirect_uri';
      ctx.type = 'html';
      ctx.body = messagePage({ realm: realm.displayName, title: 'We are sorry...', message });
      if (process.env.DEV_IDP_DEBUG) console.error('dev-idp error', error);
    },
    formats: {
      customizers: {
        // JWT access tokens with Keycloak's header and claims.
        async jwt(ctx, token, jwt) {
          const client = clientPatterns.get(token.clientId);
          if (!client) return;
          jwt.header = { typ: 'JWT' };
          if (!token.accountId) {
            // client credentials: Keycloak's service-account token, for the
            // client's service-account user and with its roles
            const p = jwt.payload;
            const user = realm.findServiceAccountUser(client.clientId);
            const resourceAccess = resourceAccessOf(user);
            jwt.payload = {
              exp: p.exp,
              iat: p.iat,
              jti: p.jti,
              iss: issuer,
              // Keycloak's audience mapper: every client whose roles are in the token
              aud: Object.keys(resourceAccess).length > 1 ? Object.keys(resourceAccess) : 'account',
              sub: user.id,
              typ: 'Bearer',
              azp: client.clientId,
              acr: '1',
              'allowed-origins': allowedOrigins(client),
              realm_access: { roles: [...user.realmRoles] },
              resource_access: resourceAccess,
              scope: p.scope || DEFAULT_SCOPES.join(' '),
              email_verified: false,
              preferred_username: user.username,
              client_id: client.clientId,
            };
            return;
          }
          const user = realm.findUserById(token.accountId);
          if (!user) return;
          jwt.payload = keycloakAccessTokenClaims({
            issuer,
            user,
            client,
            scope: jwt.payload.scope,
            sid: token.sid,
            jti: jwt.payload.jti,
            iat: jwt.payload.iat,
            exp: jwt.payload.exp,
          });
        },
      },
    },
    conformIdTokenClaims: true,
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256'],
    },
    discovery: {
      claim_types_supported: ['normal'],
      claims_parameter_supported: false,
    },
  };

  const provider = new Provider(issuer, configuration);

  // Keycloak's redirect URI rule: exact match, or prefix match for entries
  // ending in '*'.
  provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(value) {
    const c = clientPatterns.get(this.clientId);
    return !!c && c.standardFlowEnabled && uriMatches(c.redirectUris, value);
  };
  provider.Client.prototype.postLogoutRedirectUriAllowed = function postLogoutRedirectUriAllowed(value) {
    const c = clientPatterns.get(this.clientId);
    return !!c && uriMatches(c.postLogoutRedirectUris, value);
  };

  // Keycloak puts the session id (sid) into every token.
  provider.Client.prototype.includeSid = () => true;

  // Keycloak's ID tokens carry typ "ID" and azp.
  const { IdToken } = provider;
  const issue = IdToken.prototype.issue;
  IdToken.prototype.issue = function issueKeycloakIdToken(opts = {}) {
    if (opts.use === 'idtoken') {
      this.set('typ', 'ID');
      this.set('azp', this.client.clientId);
    }
    return issue.call(this, opts);
  };

  provider.registerGrantType('password', passwordGrant({ realm, resourceServerInfo }), new Set(['username', 'password', 'scope']));

  provider.use(keycloakTokenResponse({ refreshTokenLifetime }));
  provider.use(jwtIntrospection({ realm, verifyAccessToken }));
  provider.use(directLogout);

  return {
    provider,
    setKeys(newKeys) {
      initializeKeystore.call(provider, { keys: newKeys });
    },
    loginPath,
    realmPath,
    stop: () => Adapter.stop(),
  };
}

function messagePageWithForm(realmName, form) {
  return messagePage({ realm: realmName, title: 'Logging out', message: 'Do you want to log out?' })
    .replace('</div></div>', `${form}
<div id="kc-form-buttons"><button type="submit" form="op.logoutForm" name="logout" value="yes" id="kc-logout" class="pf-c-button pf-m-primary">Logout</button></div>
</div></div>`);
}

function invalidUserCredentials(description = 'Invalid user credentials') {
  const err = new errors.InvalidGrant(description);
  err.status = 401;
  err.statusCode = 401;
  err.error_description = description;
  return err;
}

// Keycloak's "direct access grants" (OAuth 2.0 resource owner password
// credentials). oidc-provider v8 has no built-in password grant.
function passwordGrant({ realm, resourceServerInfo }) {
  return async function passwordGrantHandler(ctx, next) {
    const { client, params, provider } = ctx.oidc;
    if (!params.username) throw new errors.InvalidRequest('missing required parameter: username');
    if (params.password === undefined) throw invalidUserCredentials();

    const { user } = realm.authenticate(params.username, params.password);
    if (!user) throw invalidUserCredentials();
    if (!user.enabled) {
      const err = new errors.InvalidGrant('Account disabled');
      err.error_description = 'Account disabled';
      throw err;
    }

    const requested = (params.scope || '').split(' ').filter((s) => SCOPES.includes(s));
    const scope = accessTokenScope(requested);
    const scopes = new Set(scope.split(' '));
    const now = Math.floor(Date.now() / 1000);
    const sid = randomUUID();

    const grant = new provider.Grant({ accountId: user.id, clientId: client.clientId });
    grant.addOIDCScope(scope);
    grant.addResourceScope(RESOURCE, scope);
    await grant.save();
    ctx.oidc.entity('Grant', grant);

    const account = await provider.Account.findAccount(ctx, user.id);
    ctx.oidc.entity('Account', account);

    const at = new provider.AccessToken({
      accountId: user.id,
      client,
      grantId: grant.jti,
      gty: 'password',
      sid,
      expiresWithSession: false,
    });
    at.resourceServer = new provider.ResourceServer(RESOURCE, resourceServerInfo());
    at.scope = scope;
    ctx.oidc.entity('AccessToken', at);
    const accessToken = await at.save();

    let refreshToken;
    if (client.grantTypeAllowed('refresh_token')) {
      const rt = new provider.RefreshToken({
        accountId: user.id,
        acr: '1',
        amr: ['pwd'],
        authTime: now,
        client,
        expiresWithSession: false,
        grantId: grant.jti,
        gty: 'password',
        resource: RESOURCE,
        rotations: 0,
        scope,
        sid,
      });
      ctx.oidc.entity('RefreshToken', rt);
      refreshToken = await rt.save();
    }

    let idToken;
    if (scopes.has('openid')) {
      const token = new provider.IdToken(await account.claims('id_token', scope, {}, []), { ctx });
      token.scope = scope;
      token.mask = {};
      token.rejected = [];
      token.set('at_hash', accessToken);
      token.set('sid', sid);
      token.set('auth_time', now);
      token.set('acr', '1');
      idToken = await token.issue({ use: 'idtoken' });
    }

    ctx.body = {
      access_token: accessToken,
      expires_in: at.expiration,
      id_token: idToken,
      refresh_token: refreshToken,
      scope,
      token_type: at.tokenType,
    };
    await next();
  };
}

// Keycloak's token response also has refresh_expires_in, not-before-policy
// and session_state.
function keycloakTokenResponse({ refreshTokenLifetime }) {
  return async function keycloakTokenResponseMiddleware(ctx, next) {
    await next();
    if (ctx.path !== KC.token || ctx.method !== 'POST') return;
    if (ctx.status === 400 && ctx.body?.error_description === 'requested grant type is not allowed for this client') {
      // Keycloak: unauthorized_client, e.g. direct access grants disabled for the client.
      ctx.body = {
        error: 'unauthorized_client',
        error_description: ctx.oidc?.params?.grant_type === 'password'
          ? 'Client not allowed for direct access grants'
          : 'Client not allowed to use this grant type',
      };
      return;
    }
    if (ctx.status !== 200) return;
    const body = ctx.body;
    if (!body || typeof body !== 'object' || !body.access_token) return;
    const rt = ctx.oidc?.entities?.RefreshToken;
    const at = ctx.oidc?.entities?.AccessToken;
    const now = Math.floor(Date.now() / 1000);
    ctx.body = {
      access_token: body.access_token,
      expires_in: body.expires_in,
      refresh_expires_in: body.refresh_token ? Math.max(0, (rt?.exp ?? now + refreshTokenLifetime) - now) : 0,
      ...(body.refresh_token ? { refresh_token: body.refresh_token } : {}),
      token_type: 'Bearer',
      ...(body.id_token ? { id_token: body.id_token } : {}),
      'not-before-policy': 0,
      ...(at?.sid ? { session_state: at.sid } : {}),
      // client_credentials without a scope parameter: Keycloak's default scopes
      scope: body.scope || DEFAULT_SCOPES.join(' '),
    };
  };
}

// JWT access tokens are not stored by oidc-provider, so its introspection
// says they are inactive. Keycloak's introspection returns the token's claims
// with active: true while the token is valid: check the signature, issuer and
// expiry here (the caller has already authenticated as a client).
function jwtIntrospection({ realm, verifyAccessToken }) {
  return async function jwtIntrospectionMiddleware(ctx, next) {
    await next();
    if (ctx.path !== KC.introspect || ctx.method !== 'POST' || ctx.status !== 200) return;
    if (ctx.body?.active !== false) return;
    const token = ctx.oidc?.params?.token;
    if (typeof token !== 'string' || token.split('.').length !== 3) return;
    let claims;
    try {
      claims = await verifyAccessToken(token);
    } catch {
      return;
    }
    const user = realm.findUserById(claims.sub);
    if (!user || !user.enabled) return;
    ctx.body = {
      ...claims,
      client_id: claims.azp,
      username: claims.preferred_username,
      token_type: 'Bearer',
      active: true,
    };
  };
}

// Keycloak logs out without a confirmation page when id_token_hint is given.
// oidc-provider always asks, so after it has validated the request (hint
// signature, client, registered post_logout_redirect_uri) and recorded the
// logout state, finish the logout here the way its confirm step does.
async function directLogout(ctx, next) {
  await next();
  if (ctx.path !== KC.logout || !['GET', 'POST'].includes(ctx.method) || ctx.status !== 200) return;
  const { oidc } = ctx;
  if (!oidc?.entities?.IdTokenHint || !oidc.session?.state?.secret) return;

  const { session, provider } = oidc;
  const state = session.state;
  for (const [clientId, authorization] of Object.entries(session.authorizations || {})) {
    if (authorization?.grantId && !session.authorizationFor(clientId).persistsLogout) {
      const { grantId } = authorization;
      await Promise.all([
        provider.AccessToken.revokeByGrantId(grantId),
        provider.RefreshToken.revokeByGrantId(grantId),
        provider.AuthorizationCode.revokeByGrantId(grantId),
        provider.Grant.adapter.destroy(grantId),
      ]);
    }
  }
  await session.destroy();
  const cookieName = provider.cookieName('session');
  const path = new URL(provider.issuer).pathname + '/';
  for (const name of [cookieName, `${cookieName}.sig`]) {
    ctx.cookies.set(name, null, { path, overwrite: true, httpOnly: true, sameSite: 'lax' });
  }

  let target;
  if (state.postLogoutRedirectUri) {
    const url = new URL(state.postLogoutRedirectUri);
    if (state.state != null) url.searchParams.set('state', state.state);
    target = url.href;
  } else {
    target = oidc.urlFor('end_session_success');
  }
  provider.emit('end_session.success', ctx);
  ctx.status = 302;
  ctx.redirect(target);
}

// The login page (Keycloak's /login-actions/authenticate). Runs outside the
// Koa app, with oidc-provider's interaction API.
export function loginHandler({ provider, realm, loginPath }) {
  const html = (res, status, body) => {
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store, must-revalidate, max-age=0',
      'x-frame-options': 'SAMEORIGIN',
    });
    res.end(body);
  };

  return async function handleLogin(req, res, uid, body) {
    let details;
    try {
      details = await provider.interactionDetails(req, res);
    } catch (err) {
      html(res, 400, messagePage({
        realm: realm.displayName,
        title: 'Page has expired',
        message: 'Your login attempt timed out. Login will start from the beginning.',
      }));
      return;
    }
    if (details.uid !== uid) {
      html(res, 400, messagePage({ realm: realm.displayName, title: 'We are sorry...', message: 'Invalid login session.' }));
      return;
    }
    const action = `${loginPath}/${encodeURIComponent(uid)}`;

    if (details.prompt.name !== 'login') {
      // Implicit consent (normally loadExistingGrant already covered it).
      const { Grant } = provider;
      const grant = details.grantId
        ? await Grant.find(details.grantId)
        : new Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
      const d = details.prompt.details;
      if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
      if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(d.missingResourceScopes || {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      return;
    }

    if (req.method === 'GET') {
      html(res, 200, loginPage({ realm: realm.displayName, action, username: details.params.login_hint || '' }));
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'GET, POST' });
      res.end();
      return;
    }

    const form = new URLSearchParams(body);
    const username = form.get('username') || '';
    const password = form.get('password') || '';
    const { user } = realm.authenticate(username, password);
    if (!user) {
      html(res, 200, loginPage({
        realm: realm.displayName, action, username, error: 'Invalid username or password.',
      }));
      return;
    }
    if (!user.enabled) {
      html(res, 200, loginPage({
        realm: realm.displayName, action, username, error: 'Account is disabled, contact your administrator.',
      }));
      return;
    }
    await provider.interactionFinished(req, res, {
      login: {
        accountId: user.id, acr: '1', amr: ['pwd'], remember: false,
      },
    }, { mergeWithLastSubmission: false });
  };
}

