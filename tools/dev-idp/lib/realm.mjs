// Reads a Keycloak realm-export JSON file: the realm name, its clients and
// its users (with plain-text password credentials, as Keycloak's import
// accepts them), and resolves realm/client role composites the way Keycloak
// does when it puts roles into a token.
import { readFileSync } from 'node:fs';
import { timingSafeEqual, createHash } from 'node:crypto';

const LOGOUT_URIS_ATTRIBUTE = 'post.logout.redirect.uris';
const USER_PROFILE_PROVIDER = 'org.keycloak.userprofile.UserProfileProvider';
const USER_PROFILE_CONFIG = 'kc.user.profile.config';
// Keycloak's user profile keeps these on the user itself, not among the
// custom attributes; every realm declares them.
export const ROOT_ATTRIBUTES = ['username', 'email', 'firstName', 'lastName'];

// The realm's declarative user profile (Keycloak 24+), as a realm export
// carries it: a JSON string in the UserProfileProvider component's config.
// Without one, Keycloak's default profile declares only the root attributes.
function userProfileOf(raw) {
  const component = (raw.components?.[USER_PROFILE_PROVIDER] || [])[0];
  let text = component?.config?.[USER_PROFILE_CONFIG];
  if (Array.isArray(text)) [text] = text;
  let config = { attributes: ROOT_ATTRIBUTES.map((name) => ({ name })) };
  if (typeof text === 'string') {
    try {
      config = JSON.parse(text);
    } catch (err) {
      throw new Error(`realm file: ${USER_PROFILE_CONFIG} is not JSON: ${err.message}`);
    }
  }
  const declared = new Set((config.attributes || []).map((a) => a.name));
  // ENABLED / ADMIN_EDIT let the admin API write undeclared attributes; by
  // default (no policy) Keycloak drops them silently.
  const adminWritesUnmanaged = ['ENABLED', 'ADMIN_EDIT'].includes(config.unmanagedAttributePolicy);
  return {
    config,
    declared,
    // Custom attributes the admin API shows and stores.
    adminManaged: (name) => !ROOT_ATTRIBUTES.includes(name) && (declared.has(name) || adminWritesUnmanaged),
  };
}

function attributesOf(value) {
  const out = {};
  for (const [name, values] of Object.entries(value || {})) {
    const list = (Array.isArray(values) ? values : [values]).filter((v) => v !== null && v !== undefined).map(String);
    if (list.length > 0) out[name] = list;
  }
  return out;
}

// Keycloak makes a service-account user for every client with service
// accounts; an export lists it with serviceAccountClientId. For such clients
// missing one, make it here with a stable id.
function serviceAccountUser(clientId) {
  const h = createHash('sha256').update(`service-account:${clientId}`).digest('hex');
  return {
    id: `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`,
    username: `service-account-${clientId}`,
    serviceAccountClientId: clientId,
    enabled: true,
  };
}

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

  const rawUsers = [...(raw.users || [])];
  for (const c of raw.clients || []) {
    if (c?.serviceAccountsEnabled && !rawUsers.some((u) => u?.serviceAccountClientId === c.clientId)) {
      rawUsers.push(serviceAccountUser(c.clientId));
    }
  }

  // A user as Keycloak holds it, from a UserRepresentation as the realm file
  // (or the admin API's create) gives it: plain-text password credential,
  // the realm's default role added to the assigned realm roles, composites
  // expanded.
  function makeUser(u) {
    if (!u || typeof u.username !== 'string' || typeof u.id !== 'string') {
      throw new Error('realm file: every user needs "id" and "username"');
    }
    const assigned = [...(u.realmRoles || [])];
    if (defaultRoleName && !assigned.includes(defaultRoleName)) assigned.unshift(defaultRoleName);
    const roles = expand(assigned, u.clientRoles);
    const firstName = u.firstName || '';
    const lastName = u.lastName || '';
    return {
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
      createdTimestamp: Number.isInteger(u.createdTimestamp) ? u.createdTimestamp : Date.now(),
      serviceAccountClientId: typeof u.serviceAccountClientId === 'string' ? u.serviceAccountClientId : undefined,
      attributes: attributesOf(u.attributes),
    };
  }

  const users = rawUsers.map(makeUser);
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

  return {
    name: raw.realm,
    userProfile: userProfileOf(raw),
    displayName: typeof raw.displayName === 'string' && raw.displayName ? raw.displayName : raw.realm,
    users,
    clients,
    findUserById(id) {
      return byId.get(id);
    },
    // Adds a user (kept in memory until a restart), built like the realm
    // file's users from a UserRepresentation-shaped object; the caller
    // (the admin API's create) has checked it. Returns the stored user.
    addUser(raw) {
      const user = makeUser(raw);
      if (byId.has(user.id)) throw new Error(`user id ${user.id} exists`);
      if (users.some((u) => u.username === user.username)) throw new Error(`username ${user.username} exists`);
      users.push(user);
      byId.set(user.id, user);
      return user;
    },
    findUserByLogin(login) {
      if (typeof login !== 'string') return undefined;
      const l = login.toLowerCase();
      const people = users.filter((u) => !u.serviceAccountClientId);
      return people.find((u) => u.username === l) || people.find((u) => u.email && u.email === l);
    },
    findServiceAccountUser(clientId) {
      return users.find((u) => u.serviceAccountClientId === clientId);
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
