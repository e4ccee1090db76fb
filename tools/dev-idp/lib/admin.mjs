// The part of Keycloak's Admin REST API the app uses to keep subscription
// attributes on users, and tests use to make users
// (contracts/keycloak-admin-users-subset.json):
// GET and POST (create) /admin/realms/REALM/users, GET /users/count,
// /users/profile, GET and PUT /admin/realms/REALM/users/ID. Users live in
// memory (the realm file's users, changed in place, plus the created ones),
// so changes last until a restart.
import { randomUUID } from 'node:crypto';

const DEFAULT_MAX_RESULTS = 100; // Keycloak's Constants.DEFAULT_MAX_RESULTS
const LOG_LIMIT = 1000;
const REALM_MANAGEMENT = 'realm-management';
const EMAIL = /^[^\s@]+@[^\s@]+$/;
// Keycloak's UsernameProhibitedCharactersValidator pattern.
const USERNAME_PROHIBITED = /[<>&"'\s$%!#?§,;:*~/\\|^=[\]{}()`\p{Cc}]/u;

// What the caller's token allows, from its realm-management client roles
// (Keycloak: manage-users implies view; realm-admin is both).
function permissions(claims) {
  const roles = new Set(claims.resource_access?.[REALM_MANAGEMENT]?.roles || []);
  const manage = roles.has('manage-users') || roles.has('realm-admin');
  return { view: manage || roles.has('view-users'), manage };
}

// UserRepresentation as Keycloak 26 returns it. Null fields are left out;
// `attributes` only holds the custom attributes the user profile lets an
// admin see, and is left out when there are none.
export function userRepresentation(user, realm, { brief = false, manage = true } = {}) {
  const access = {
    manageGroupMembership: manage, view: true, mapRoles: manage, impersonate: false, manage,
  };
  const names = {
    id: user.id,
    username: user.username,
    firstName: user.firstName || undefined,
    lastName: user.lastName || undefined,
    email: user.email || undefined,
    emailVerified: user.emailVerified,
  };
  if (brief) {
    return {
      ...names, createdTimestamp: user.createdTimestamp, enabled: user.enabled, access,
    };
  }
  const attributes = Object.fromEntries(Object.entries(user.attributes)
    .filter(([name, values]) => realm.userProfile.adminManaged(name) && values.length > 0)
    .map(([name, values]) => [name, [...values]]));
  return {
    ...names,
    ...(Object.keys(attributes).length ? { attributes } : {}),
    createdTimestamp: user.createdTimestamp,
    enabled: user.enabled,
    totp: false,
    ...(user.serviceAccountClientId ? { serviceAccountClientId: user.serviceAccountClientId } : {}),
    disableableCredentialTypes: [],
    requiredActions: [],
    notBefore: 0,
    access,
  };
}

// Keycloak's `search`: whitespace-separated terms that must all match the
// username, e-mail, first or last name; "term" in quotes is an exact match,
// otherwise a prefix match where * is a wildcard.
function searchMatcher(search) {
  const tests = search.trim().toLowerCase().split(/\s+/).filter(Boolean).map((term) => {
    if (term.length >= 2 && term.startsWith('"') && term.endsWith('"')) {
      const exact = term.slice(1, -1);
      return (value) => value === exact;
    }
    const pattern = term.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
    const re = new RegExp(`^${pattern}`, 's');
    return (value) => re.test(value);
  });
  return (user) => tests.every((t) => [user.username, user.email, user.firstName, user.lastName]
    .some((v) => typeof v === 'string' && t(v.toLowerCase())));
}

// Keycloak's `q`: "name:value name2:value2" over custom attributes.
function attributeQuery(q) {
  const pairs = [];
  for (const part of q.trim().split(/\s+/).filter(Boolean)) {
    const i = part.indexOf(':');
    if (i > 0) pairs.push([part.slice(0, i), part.slice(i + 1)]);
  }
  return pairs;
}

function intParam(params, name, fallback) {
  const raw = params.get(name);
  if (raw === null || !/^-?\d+$/.test(raw)) return fallback;
  return Number(raw);
}

// GET /users and /users/count. As in Keycloak, service-account users only
// turn up in field searches (username=, email=, ...), not in `search` or the
// plain listing.
function findUsers(realm, params) {
  const exact = params.get('exact') === 'true';
  const matches = (value, wanted) => {
    if (typeof value !== 'string') return false;
    const v = value.toLowerCase();
    const w = wanted.toLowerCase();
    return exact ? v === w : v.includes(w);
  };
  const people = realm.users.filter((u) => !u.serviceAccountClientId);
  const bool = (name) => (params.has(name) ? params.get(name) === 'true' : undefined);
  const enabled = bool('enabled');
  const emailVerified = bool('emailVerified');
  const flags = (u) => (enabled === undefined || u.enabled === enabled)
    && (emailVerified === undefined || u.emailVerified === emailVerified);

  let found;
  if (params.has('search')) {
    const search = params.get('search').trim();
    if (search.startsWith('id:')) {
      found = search.slice(3).trim().split(/\s+/).map((id) => realm.findUserById(id)).filter(Boolean);
    } else {
      found = people.filter(searchMatcher(search)).filter(flags);
    }
  } else {
    const fields = ['username', 'email', 'firstName', 'lastName']
      .filter((name) => params.has(name))
      .map((name) => [name, params.get(name)]);
    const query = params.has('q') ? attributeQuery(params.get('q')) : [];
    const fieldSearch = fields.length || query.length || params.has('exact')
      || enabled !== undefined || emailVerified !== undefined;
    found = (fieldSearch ? realm.users : people).filter((u) => flags(u)
      && fields.every(([field, wanted]) => matches(u[field], wanted))
      && query.every(([name, wanted]) => realm.userProfile.adminManaged(name)
        && (u.attributes[name] || []).some((v) => matches(v, wanted))));
  }
  return [...found].sort((a, b) => a.username.localeCompare(b.username));
}

class HttpError extends Error {
  constructor(status, body) {
    super(JSON.stringify(body));
    this.status = status;
    this.body = body;
  }
}

const badRequest = (body = { error: 'unknown_error' }) => new HttpError(400, body);

// Keycloak's EmailValidator error (an ErrorRepresentation).
const invalidEmail = (email) => ({ field: 'email', errorMessage: 'error-invalid-email', params: ['email', email] });

function optionalString(body, name) {
  const value = body[name];
  if (value !== undefined && value !== null && typeof value !== 'string') throw badRequest();
  return value ?? undefined;
}

// PUT /users/ID with Keycloak's semantics (UserResource.updateUser, 24+):
// with an `attributes` member the body replaces the user's attributes and
// names: custom attributes, email, firstName and lastName left out are
// removed. Without one (or with null) Keycloak fills in the stored values, so
// only what the body names changes. Attributes the user profile does not
// declare are dropped silently. id and username cannot change.
function updateUser(realm, user, body) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest();
  const replace = body.attributes !== undefined && body.attributes !== null;
  let attributes = user.attributes;
  if (replace) {
    if (typeof body.attributes !== 'object' || Array.isArray(body.attributes)) throw badRequest();
    attributes = {};
    for (const [name, values] of Object.entries(body.attributes)) {
      if (values === null) continue;
      if (!Array.isArray(values) || values.some((v) => typeof v !== 'string')) throw badRequest();
      if (realm.userProfile.adminManaged(name) && values.length > 0) attributes[name] = [...values];
    }
  }
  const username = optionalString(body, 'username');
  if (username !== undefined && username.toLowerCase() !== user.username) {
    throw badRequest({ field: 'username', errorMessage: 'error-user-attribute-read-only', params: ['username'] });
  }
  const keep = (name) => (replace ? undefined : user[name] || undefined);
  const firstName = optionalString(body, 'firstName') ?? keep('firstName');
  const lastName = optionalString(body, 'lastName') ?? keep('lastName');
  let email = optionalString(body, 'email');
  email = email === undefined ? keep('email') : email.toLowerCase() || undefined;
  if (email !== undefined && !EMAIL.test(email)) throw badRequest(invalidEmail(email));
  if (email && realm.users.some((u) => u !== user && u.email === email)) {
    throw new HttpError(409, { errorMessage: 'User exists with same email' });
  }
  for (const name of ['enabled', 'emailVerified']) {
    if (body[name] !== undefined && body[name] !== null && typeof body[name] !== 'boolean') throw badRequest();
  }

  user.firstName = firstName || '';
  user.lastName = lastName || '';
  user.name = [user.firstName, user.lastName].filter(Boolean).join(' ') || undefined;
  user.email = email;
  if (typeof body.enabled === 'boolean') user.enabled = body.enabled;
  if (typeof body.emailVerified === 'boolean') user.emailVerified = body.emailVerified;
  user.attributes = attributes;
}

// Custom attributes from a UserRepresentation: only those the user profile
// lets an admin write are kept (others dropped silently, as PUT does).
function profileAttributes(realm, value) {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw badRequest();
  const out = {};
  for (const [name, values] of Object.entries(value)) {
    if (values === null) continue;
    if (!Array.isArray(values) || values.some((v) => typeof v !== 'string')) throw badRequest();
    if (realm.userProfile.adminManaged(name) && values.length > 0) out[name] = [...values];
  }
  return out;
}

// One of Keycloak's validators on a value; an ErrorRepresentation when it fails.
function validate(validator, config, name, value) {
  if (validator === 'length') {
    const n = value.trim().length;
    const min = config.min === undefined ? null : Number(config.min);
    const max = config.max === undefined ? null : Number(config.max);
    if ((min === null || n >= min) && (max === null || n <= max)) return undefined;
    let errorMessage = 'error-invalid-length';
    if (max === null) errorMessage = 'error-invalid-length-too-short';
    else if (min === null) errorMessage = 'error-invalid-length-too-long';
    return { field: name, errorMessage, params: [name, min, max] };
  }
  if (validator === 'email' && !EMAIL.test(value)) return { ...invalidEmail(value), field: name, params: [name, value] };
  if (validator === 'username-prohibited-characters' && USERNAME_PROHIBITED.test(value)) {
    return { field: name, errorMessage: 'error-username-invalid-character', params: [name] };
  }
  return undefined; // other validators are not checked here
}

// The user profile's validations (UPConfig) that apply when an admin creates
// a user: `required` (for the admin: no roles or "admin" among them, no
// scopes), `length` (trimmed, as Keycloak's LengthValidator), `email` and
// `username-prohibited-characters`. Blank values skip the validators, as in
// Keycloak. Errors are ErrorRepresentations, in the profile's attribute order.
function profileErrors(realm, values) {
  const errors = [];
  for (const attribute of realm.userProfile.config.attributes || []) {
    const { name } = attribute;
    const list = (values[name] || []).filter((v) => typeof v === 'string' && v.trim() !== '');
    const required = attribute.required;
    if (required && list.length === 0 && !(required.scopes || []).length
      && (!(required.roles || []).length || required.roles.includes('admin'))) {
      errors.push({ field: name, errorMessage: 'error-user-attribute-required', params: [name] });
      continue;
    }
    // the e-mail format is checked even where the profile does not declare it (as PUT does)
    const validations = name === 'email' ? { email: {}, ...attribute.validations } : attribute.validations || {};
    for (const value of list) {
      for (const [validator, config] of Object.entries(validations)) {
        const error = validate(validator, config || {}, name, value);
        if (error) errors.push(error);
      }
    }
  }
  return errors;
}

// POST /users with Keycloak's semantics (UsersResource.createUser, 24+):
// username required (400 "User name is missing"), username and e-mail unique
// among all users, case-insensitively (409); then the user profile's
// validations (400, one ErrorRepresentation, or {"errors": [...]} for
// several). As in Keycloak: `enabled` and `emailVerified` are false unless
// given (a user created without "enabled": true cannot log in);
// `createdTimestamp` is taken from the body when given, otherwise now;
// `id`, `realmRoles`, `clientRoles`, `federatedIdentities` and
// `serviceAccountClientId` in the body are ignored; the user gets the realm's
// default role. Credentials: plain {"type": "password", "value": "..."}
// entries set the password (the last one wins). Not Keycloak, refused with
// 400 because this provider has no required actions: a temporary password
// (Keycloak would make the user choose a new one at the next login),
// non-empty `requiredActions`, and credentials without a plain value or of
// another type; likewise non-empty `groups` (the realm has no groups).
function createUser(realm, body) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest();
  const username = (optionalString(body, 'username') || '').toLowerCase();
  const email = optionalString(body, 'email')?.toLowerCase() || undefined;
  const firstName = optionalString(body, 'firstName');
  const lastName = optionalString(body, 'lastName');
  for (const name of ['enabled', 'emailVerified']) {
    if (body[name] !== undefined && body[name] !== null && typeof body[name] !== 'boolean') throw badRequest();
  }
  const createdTimestamp = body.createdTimestamp ?? undefined;
  if (createdTimestamp !== undefined && !Number.isInteger(createdTimestamp)) throw badRequest();
  const attributes = profileAttributes(realm, body.attributes);

  const unsupported = (what) => badRequest({ errorMessage: `dev-idp does not support ${what}` });
  for (const name of ['credentials', 'requiredActions', 'groups']) {
    if (body[name] !== undefined && body[name] !== null && !Array.isArray(body[name])) throw badRequest();
  }
  if ((body.requiredActions || []).length) throw unsupported('required actions ("requiredActions" must be empty)');
  if ((body.groups || []).length) throw unsupported('groups ("groups" must be empty)');
  let password;
  for (const credential of body.credentials || []) {
    if (!credential || typeof credential !== 'object') throw badRequest();
    if (credential.type !== undefined && credential.type !== null && credential.type !== 'password') {
      throw unsupported(`credentials of type ${JSON.stringify(credential.type)} (only "password")`);
    }
    if (typeof credential.value !== 'string' || credential.value === '') {
      throw unsupported('password credentials without a plain "value" (hashed or empty)');
    }
    if (credential.temporary === true) {
      throw unsupported('temporary passwords (no required actions here): send "temporary": false');
    }
    password = credential.value;
  }

  if (!username.trim()) throw badRequest({ errorMessage: 'User name is missing' });
  if (realm.users.some((u) => u.username === username)) {
    throw new HttpError(409, { errorMessage: 'User exists with same username' });
  }
  if (email && realm.users.some((u) => u.email === email)) {
    throw new HttpError(409, { errorMessage: 'User exists with same email' });
  }
  const errors = profileErrors(realm, {
    username: [username],
    email: email ? [email] : [],
    firstName: firstName ? [firstName] : [],
    lastName: lastName ? [lastName] : [],
    ...attributes,
  });
  if (errors.length === 1) throw badRequest(errors[0]);
  if (errors.length > 1) throw badRequest({ errors });

  return realm.addUser({
    id: randomUUID(),
    username,
    email,
    firstName,
    lastName,
    enabled: body.enabled === true,
    emailVerified: body.emailVerified === true,
    createdTimestamp: createdTimestamp ?? Date.now(),
    attributes,
    credentials: password === undefined ? [] : [{ type: 'password', value: password, temporary: false }],
  });
}

function faultProblem({ method, status, count }) {
  if (!Number.isInteger(status) || status < 100 || status > 599) return '"status" must be an HTTP status code';
  if (count !== null && (!Number.isInteger(count) || count < 1)) return '"count" must be a positive integer or null';
  if (!/^(\*|[A-Z]+)$/.test(method)) return '"method" must be "GET", "PUT", ... or "*"';
  return undefined;
}

// `origin`: the server's origin (the issuer's), for the Location of a created user.
export function createAdminApi({ realm, verifyAccessToken, origin }) {
  const prefix = `/admin/realms/${realm.name}/users`;
  // Test controls: injected failures and a log of admin requests.
  let faults = []; // { method, status, count (null: until cleared) }
  let requests = [];

  function takeFault(method) {
    const fault = faults.find((f) => f.method === '*' || f.method === method);
    if (!fault) return undefined;
    if (fault.count !== null) {
      fault.count -= 1;
      if (fault.count <= 0) faults = faults.filter((f) => f !== fault);
    }
    return fault;
  }

  async function authenticate(req) {
    const auth = req.headers.authorization || '';
    const token = /^bearer /i.test(auth) ? auth.slice(7).trim() : '';
    if (!token) throw new HttpError(401, { error: 'HTTP 401 Unauthorized' });
    let claims;
    try {
      claims = await verifyAccessToken(token);
    } catch {
      throw new HttpError(401, { error: 'HTTP 401 Unauthorized' });
    }
    const caller = realm.findUserById(claims.sub);
    if (!caller || !caller.enabled) throw new HttpError(401, { error: 'HTTP 401 Unauthorized' });
    return permissions(claims);
  }

  function requireRole(allowed) {
    if (!allowed) throw new HttpError(403, { error: 'unknown_error' });
  }

  async function route(req, path, params, rawBody) {
    const can = await authenticate(req);
    const realmMatch = path.match(/^\/admin\/realms\/([^/]+)(\/.*)?$/);
    if (!realmMatch || decodeURIComponent(realmMatch[1]) !== realm.name) {
      throw new HttpError(404, { error: 'Realm not found.' });
    }
    const notFound = new HttpError(404, { error: 'Unable to find matching target resource method' });
    const notAllowed = new HttpError(405, { error: 'HTTP 405 Method Not Allowed' });
    if (path === prefix && req.method === 'POST') {
      requireRole(can.manage);
      let body;
      try {
        body = JSON.parse(rawBody);
      } catch {
        throw badRequest();
      }
      const user = createUser(realm, body);
      return { status: 201, headers: { location: `${origin}${prefix}/${user.id}` } };
    }
    if (path === prefix || path === `${prefix}/count`) {
      if (req.method !== 'GET') throw notAllowed;
      requireRole(can.view);
      const found = findUsers(realm, params);
      if (path.endsWith('/count')) return { status: 200, body: found.length };
      const first = Math.max(0, intParam(params, 'first', 0));
      const max = intParam(params, 'max', DEFAULT_MAX_RESULTS);
      const brief = params.get('briefRepresentation') === 'true';
      return {
        status: 200,
        body: found.slice(first, max < 0 ? undefined : first + max)
          .map((u) => userRepresentation(u, realm, { brief, manage: can.manage })),
      };
    }
    if (path === `${prefix}/profile`) {
      if (req.method !== 'GET') throw notAllowed;
      requireRole(can.view);
      return { status: 200, body: realm.userProfile.config };
    }
    const userMatch = path.startsWith(`${prefix}/`) && path.slice(prefix.length + 1);
    if (!userMatch || userMatch.includes('/')) throw notFound;
    const id = decodeURIComponent(userMatch);
    if (req.method === 'GET') {
      requireRole(can.view);
      const user = realm.findUserById(id);
      if (!user) throw new HttpError(404, { error: 'User not found' });
      return { status: 200, body: userRepresentation(user, realm, { manage: can.manage }) };
    }
    if (req.method === 'PUT') {
      requireRole(can.manage);
      const user = realm.findUserById(id);
      if (!user) throw new HttpError(404, { error: 'User not found' });
      let body;
      try {
        body = JSON.parse(rawBody);
      } catch {
        throw badRequest();
      }
      updateUser(realm, user, body);
      return { status: 204 };
    }
    throw notAllowed;
  }

  return {
    // Answers a request under /admin/.
    async handle(req, url, rawBody) {
      const path = url.pathname;
      let result;
      const fault = takeFault(req.method);
      if (fault) {
        result = {
          status: fault.status,
          body: { error: 'injected_fault', error_description: 'dev-idp test control /_dev/admin-api/faults' },
        };
      } else {
        try {
          result = await route(req, path, url.searchParams, rawBody);
        } catch (err) {
          if (!(err instanceof HttpError)) throw err;
          result = { status: err.status, body: err.body };
        }
      }
      let logged = rawBody || null;
      try {
        if (rawBody) logged = JSON.parse(rawBody);
      } catch {
        // not JSON: log the text
      }
      requests.push({
        method: req.method, path, query: Object.fromEntries(url.searchParams), body: logged, status: result.status,
      });
      if (requests.length > LOG_LIMIT) requests = requests.slice(-LOG_LIMIT);
      return result;
    },

    // /_dev/admin-api/faults and /_dev/admin-api/requests.
    control(method, path, body) {
      if (path === '/_dev/admin-api/faults') {
        if (method === 'DELETE') {
          faults = [];
          return { status: 200, body: { faults } };
        }
        if (method === 'GET') return { status: 200, body: { faults } };
        if (method !== 'POST') return { status: 405, body: { error: 'method_not_allowed' } };
        const fault = {
          method: typeof body.method === 'string' ? body.method.toUpperCase() : '*',
          status: body.status,
          count: body.count ?? null,
        };
        const problem = faultProblem(fault);
        if (problem) return { status: 400, body: { error: 'invalid_request', error_description: problem } };
        faults.push(fault);
        return { status: 200, body: { faults } };
      }
      if (path === '/_dev/admin-api/requests') {
        if (method === 'DELETE') {
          requests = [];
          return { status: 200, body: [] };
        }
        if (method === 'GET') return { status: 200, body: requests };
        return { status: 405, body: { error: 'method_not_allowed' } };
      }
      return undefined;
    },
  };
}
