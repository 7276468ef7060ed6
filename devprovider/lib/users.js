// The demo user directory and the mapping from a user record to Logto-shaped claims.
//
// The users file is read again on every lookup (a few KB of JSON): tests edit it between
// sign-ins (for example to change roles) and must see the change without a restart.

import { readFile } from 'node:fs/promises';
import { timingSafeEqual } from 'node:crypto';

export class UserDirectory {
  // `organizations`: an OrganizationDirectory whose run-time changes (memberships, names)
  // every user record read here reflects.
  constructor(path, { organizations } = {}) {
    this.path = path;
    this.organizations = organizations;
    // Set through the debug endpoints (suspend, unsuspend, delete): user id -> true/false.
    this.suspended = new Map();
    this.deleted = new Set();
  }

  // The users with the memberships in effect.
  async all() {
    const users = await this.raw();
    return this.organizations ? this.organizations.apply(users) : users;
  }

  // The users file's records (not deleted), memberships as the file has them.
  async raw() {
    let users;
    try {
      users = JSON.parse(await readFile(this.path, 'utf8'));
    } catch (error) {
      throw new Error(`cannot read the users file ${this.path}: ${error.message}`, { cause: error });
    }
    if (!Array.isArray(users)) {
      throw new Error(`the users file ${this.path} must hold a JSON list of users`);
    }
    return users.filter((user) => !this.deleted.has(user.id));
  }

  // Suspended in the users file (`"suspended": true`) or through the debug endpoint.
  isSuspended(user) {
    return this.suspended.get(user.id) ?? Boolean(user.suspended);
  }

  // An existing, not suspended user: the only kind that may sign in or refresh tokens.
  async findActive(id) {
    const user = await this.findById(id);
    return user && !this.isSuspended(user) ? user : undefined;
  }

  // Like Logto's Management API: suspend (true) or lift the suspension (false). Returns
  // false for an unknown user.
  async setSuspended(id, suspended) {
    if (!(await this.findById(id))) return false;
    this.suspended.set(id, suspended);
    return true;
  }

  async delete(id) {
    if (!(await this.findById(id))) return false;
    this.deleted.add(id);
    return true;
  }

  async findById(id) {
    return (await this.all()).find((user) => user.id === id);
  }

  // Return the user whose username and password match, or undefined.
  async authenticate(username, password) {
    const user = (await this.all()).find((candidate) => candidate.username === username);
    if (!user || typeof password !== 'string' || !sameSecret(user.password, password)) {
      return undefined;
    }
    return user;
  }
}

function sameSecret(expected, actual) {
  const a = Buffer.from(String(expected));
  const b = Buffer.from(actual);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function organizationsOf(user) {
  return Array.isArray(user.organizations) ? user.organizations : [];
}

const EXTENDED = ['roles', 'organizations', 'organization_roles'];

// Profile claims Logto releases (scope `profile`) only when the user has them set.
export const OPTIONAL_PROFILE_CLAIMS = [
  'family_name', 'given_name', 'middle_name', 'nickname', 'profile', 'website', 'gender',
  'birthdate', 'zoneinfo', 'locale',
];

// Claims for a user, shaped like Logto's. oidc-provider then keeps only those the granted
// scopes cover. Unset values are JSON null (as Logto sends them), never left out.
// `use` is "id_token" or "userinfo": like Logto's defaults, organization_data, custom_data
// and identities are only ever served by the userinfo endpoint.
// `idTokenExtended` lists which of roles/organizations/organization_roles ID tokens carry.
export function claimsFor(user, use, idTokenExtended = EXTENDED) {
  const organizations = organizationsOf(user);
  const claims = {
    sub: user.id,
    name: user.name ?? null,
    username: user.username ?? null,
    preferred_username: user.username ?? null,
    picture: user.picture ?? null,
    created_at: user.created_at ?? null,
    updated_at: user.updated_at ?? null,
    email: user.email ?? null,
    email_verified: Boolean(user.email_verified),
    phone_number: user.phone_number ?? null,
    // Logto treats a primary phone as verified; the users file may say otherwise.
    phone_number_verified: Boolean(user.phone_number_verified ?? user.phone_number),
    address: user.address ?? null,
    roles: Array.isArray(user.roles) ? user.roles : [],
    organizations: organizations.map((organization) => organization.id),
    organization_roles: organizations.flatMap((organization) => (organization.roles ?? [])
      .map((role) => `${organization.id}:${role}`)),
  };
  for (const name of OPTIONAL_PROFILE_CLAIMS) {
    if (user[name] !== undefined && user[name] !== null && user[name] !== '') claims[name] = user[name];
  }

  if (use !== 'userinfo') {
    for (const name of EXTENDED) {
      if (!idTokenExtended.includes(name)) delete claims[name];
    }
  } else {
    claims.organization_data = organizations.map(({ id, name, description }) => ({
      id,
      name: name ?? null,
      description: description ?? null,
    }));
    claims.custom_data = user.custom_data ?? {};
    claims.identities = user.identities ?? {};
    claims.sso_identities = user.sso_identities ?? [];
  }

  return claims;
}

// A user as Logto's Management API describes it: the `data` of its user webhooks
// (shape of shared/logto-samples/webhook_user_created.json).
export function logtoUser(user, { suspended = Boolean(user.suspended) } = {}) {
  return {
    id: user.id,
    username: user.username ?? null,
    primaryEmail: user.email ?? null,
    primaryPhone: user.phone_number ?? null,
    name: user.name ?? null,
    avatar: user.picture ?? null,
    customData: user.custom_data ?? {},
    identities: user.identities ?? {},
    lastSignInAt: user.last_sign_in_at ?? null,
    createdAt: user.created_at ?? null,
    updatedAt: user.updated_at ?? null,
    profile: {},
    applicationId: null,
    cimdClientId: null,
    isSuspended: suspended,
  };
}
