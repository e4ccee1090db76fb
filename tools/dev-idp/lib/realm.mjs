// Reads a Keycloak realm-export JSON file: the realm name, its clients and
// its users (with plain-text password credentials, as Keycloak's import
// accepts them), and resolves realm/client role composites the way Keycloak
// does when it puts roles into a token.
import { readFileSync } from 'node:fs';
import { timingSafeEqual, createHash } from 'node:crypto';

const LOGOUT_URIS_ATTRIBUTE = 'post.logout.redirect.uris';

function asArray(value) {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.filter((v) => typeof v === 'string' && v.length > 0);
  if (typeof value === 'string') return value.split('##').filter((v) => v.length > 0);
  throw new TypeError(`expected an array or '##'-joined string, got ${typeof value}`);
}

// Keycloak's redirect URI rule: an entry ending in '*' matches every URI that
// starts with the entry minus the '*'; any other entry must match exactly.
export function uriMatches(patterns, uri) {
  if (typeof uri !== 'string' || uri.length === 0) return false;
  return patterns.some((pattern) => {
    if (pattern.endsWith('*')) return uri.startsWith(pattern.slice(0, -1));
    return pattern === uri;
  });
}

function isAbsoluteHttpUrl(value) {
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

function passwordOf(user) {
  const credential = (user.credentials || []).find((c) => c && c.type === 'password');
  if (!credential) return undefined;
  if (typeof credential.value !== 'string') {
    throw new Error(`user ${user.username}: only plain "value" password credentials are supported (hashed Keycloak credentials cannot be checked here)`);
  }
  return credential.value;
}

function sha256(value) {
  return createHash('sha256').update(value, 'utf8').digest();
}

export function loadRealm(file) {
  let raw;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read realm file ${file}: ${err.message}`);
  }
  return parseRealm(raw);
}

export function parseRealm(raw) {
  if (!raw || typeof raw.realm !== 'string' || !/^[A-Za-z0-9._-]+$/.test(raw.realm)) {
    throw new Error('realm file: "realm" must be a simple name such as "ops-center"');
  }

  // Realm roles and their composites (e.g. default-roles-REALM → offline_access, uma_authorization,
  // account client roles).
  const realmRoleDefs = new Map();
  for (const role of raw.roles?.realm || []) realmRoleDefs.set(role.name, role);
  const clientRoleDefs = new Map(); // "client/role" → role
  for (const [clientId, roles] of Object.entries(raw.roles?.client || {})) {
    for (const role of roles) clientRoleDefs.set(`${clientId}/${role.name}`, role);
  }

  function expand(realmRoles, clientRoles) {
    const realmOut = new Set();
    const clientOut = new Map();
    const addClientRole = (clientId, name) => {
      const key = `${clientId}/${name}`;
      if (!clientOut.has(clientId)) clientOut.set(clientId, new Set());
      if (clientOut.get(clientId).has(name)) return;
      clientOut.get(clientId).add(name);
      visit(clientRoleDefs.get(key));
    };
    const addRealmRole = (name) => {
      if (realmOut.has(name)) return;
      realmOut.add(name);
      visit(realmRoleDefs.get(name));
    };
    function visit(def) {
      if (!def || !def.composite || !def.composites) return;
      for (const name of def.composites.realm || []) addRealmRole(name);
      for (const [clientId, names] of Object.entries(def.composites.client || {})) {
        for (const name of names) addClientRole(clientId, name);
      }
    }
    for (const name of realmRoles) addRealmRole(name);
    for (const [clientId, names] of Object.entries(clientRoles || {})) {
      for (const name of names) addClientRole(clientId, name);
    }
    return {
      realmRoles: [...realmOut],
      clientRoles: Object.fromEntries([...clientOut].map(([k, v]) => [k, [...v]])),
    };
  }

  const defaultRoleName = raw.defaultRole?.name;

  const users = [];
  for (const u of raw.users || []) {
    if (!u || typeof u.username !== 'string' || typeof u.id !== 'string') {
      throw new Error('realm file: every user needs "id" and "username"');
    }
    const assigned = [...(u.realmRoles || [])];
    if (defaultRoleName && !assigned.includes(defaultRoleName)) assigned.unshift(defaultRoleName);
    const roles = expand(assigned, u.clientRoles);
    const firstName = u.firstName || '';
    const lastName = u.lastName || '';
    users.push({
      id: u.id,
      username: u.username.toLowerCase(), // Keycloak stores usernames in lower case
      email: u.email ? u.email.toLowerCase() : undefined,
      emailVerified: !!u.emailVerified,
      firstName,
      lastName,
      name: [firstName, lastName].filter(Boolean).join(' ') || undefined,
      enabled: u.enabled !== false,
      password: passwordOf(u),
      realmRoles: roles.realmRoles,
      clientRoles: roles.clientRoles,
    });
  }
  const byId = new Map(users.map((u) => [u.id, u]));
  if (byId.size !== users.length) throw new Error('realm file: duplicate user ids');

  const clients = [];
  for (const c of raw.clients || []) {
    if (!c || typeof c.clientId !== 'string') throw new Error('realm file: every client needs "clientId"');
    if (c.enabled === false || c.bearerOnly) continue;
    if (c.protocol && c.protocol !== 'openid-connect') continue;
    const redirectUris = asArray(c.redirectUris);
    let logoutUris = [
      ...asArray(c.attributes?.[LOGOUT_URIS_ATTRIBUTE]),
      ...asArray(c.postLogoutRedirectUris),
    ];
    // Keycloak: "+" means "same as the valid redirect URIs".
    if (logoutUris.includes('+')) {
      logoutUris = [...logoutUris.filter((u) => u !== '+'), ...redirectUris];
    }
    const publicClient = !!c.publicClient;
    if (!publicClient && typeof c.secret !== 'string') {
      throw new Error(`realm file: confidential client ${c.clientId} needs a "secret"`);
    }
    clients.push({
      clientId: c.clientId,
      secret: publicClient ? undefined : c.secret,
      publicClient,
      standardFlowEnabled: c.standardFlowEnabled !== false,
      directAccessGrantsEnabled: !!c.directAccessGrantsEnabled,
      serviceAccountsEnabled: !!c.serviceAccountsEnabled,
      redirectUris,
      postLogoutRedirectUris: logoutUris,
      webOrigins: asArray(c.webOrigins),
    });
  }

  const serviceAccountRoles = defaultRoleName ? expand([defaultRoleName], {}).realmRoles : [];

  return {
    name: raw.realm,
    serviceAccountRoles,
    displayName: typeof raw.displayName === 'string' && raw.displayName ? raw.displayName : raw.realm,
    users,
    clients,
    findUserById(id) {
      return byId.get(id);
    },
    findUserByLogin(login) {
      if (typeof login !== 'string') return undefined;
      const l = login.toLowerCase();
      return users.find((u) => u.username === l) || users.find((u) => u.email && u.email === l);
    },
    // Keycloak accepts the username or the e-mail address on its login form.
    authenticate(login, password) {
      const user = this.findUserByLogin(login);
      if (!user || typeof password !== 'string' || user.password === undefined) return { user: undefined };
      const ok = timingSafeEqual(sha256(password), sha256(user.password));
      return ok ? { user } : { user: undefined };
    },
    findClient(clientId) {
      return clients.find((c) => c.clientId === clientId);
    },
  };
}

// Turns a realm client into oidc-provider client metadata. Wildcard redirect
// URIs are not valid URLs for oidc-provider, so only exact ones are
// registered there; the wildcard rule is applied by the patched
// redirectUriAllowed / postLogoutRedirectUriAllowed (see provider.mjs).
export function toClientMetadata(client) {
  const exact = (list) => list.filter((u) => !u.endsWith('*') && isAbsoluteHttpUrl(u));
  let redirectUris = exact(client.redirectUris);
  if (redirectUris.length === 0) {
    redirectUris = client.redirectUris
      .filter((u) => u.endsWith('*'))
      .map((u) => u.slice(0, -1))
      .filter(isAbsoluteHttpUrl)
      .slice(0, 1);
  }
  const grantTypes = new Set();
  if (client.standardFlowEnabled && redirectUris.length > 0) {
    grantTypes.add('authorization_code');
    grantTypes.add('refresh_token');
  }
  if (client.directAccessGrantsEnabled) {
    grantTypes.add('password');
    grantTypes.add('refresh_token');
  }
  if (client.serviceAccountsEnabled && !client.publicClient) grantTypes.add('client_credentials');

  const codeFlow = grantTypes.has('authorization_code');
  return {
    client_id: client.clientId,
    ...(client.publicClient
      ? { token_endpoint_auth_method: 'none' }
      : { client_secret: client.secret, token_endpoint_auth_method: 'client_secret_basic' }),
    grant_types: [...grantTypes],
    response_types: codeFlow ? ['code'] : [],
    redirect_uris: codeFlow ? redirectUris : [],
    post_logout_redirect_uris: exact(client.postLogoutRedirectUris),
    id_token_signed_response_alg: 'RS256',
    require_auth_time: true, // Keycloak's ID tokens always carry auth_time
  };
}
