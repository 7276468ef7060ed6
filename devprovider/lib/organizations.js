// The tenant's organizations and who belongs to them, as Logto's Management API changes them.
//
// The starting point is on disk: the organizations listed in tenant.json (`organizations`)
// and each user's memberships in users.json (`organizations: [{id, name, description,
// roles}]`). Both files are re-read at every lookup (tests edit them). What the debug
// endpoints change (create, rename or delete an organization; add or remove a member;
// change a member's roles) is kept here, in memory, and laid over the files: a user record
// read through the UserDirectory carries the memberships that are in effect.

import { randomBytes } from 'node:crypto';

// Logto's ids: 12 lowercase letters and digits.
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function newLogtoId(length = 12) {
  const bytes = randomBytes(length);
  return Array.from(bytes, (byte) => ID_ALPHABET[byte % ID_ALPHABET.length]).join('');
}

// When an organization that has no creation time of its own was created (the demo's).
const DEMO_CREATED_AT = 1767225600000;

const membershipKey = (organizationId, userId) => `${organizationId}\u0000${userId}`;

export class OrganizationDirectory {
  constructor(tenant) {
    this.tenant = tenant;
    this.reset();
  }

  // Forget every run-time change: the files' organizations and memberships again.
  reset() {
    this.created = new Map(); // id -> organization record
    this.changed = new Map(); // id -> { name?, description? }
    this.deleted = new Set();
    // "organizationId\0userId" -> roles (a list: member with these roles) or null (removed).
    this.memberships = new Map();
  }

  // The organization `id` as Logto's Management API describes it (`data` of its webhooks),
  // or undefined when there is no such organization. `rawUsers`: the users file's records.
  // `listed`: the tenant file's organizations, when the caller has read them already.
  find(id, rawUsers = [], listed = undefined) {
    if (typeof id !== 'string' || this.deleted.has(id)) return undefined;
    let base = this.created.get(id)
      ?? (listed ?? this.tenant.organizations()).find((organization) => organization.id === id);
    if (!base) {
      for (const user of rawUsers) {
        const entry = (Array.isArray(user.organizations) ? user.organizations : [])
          .find((organization) => organization.id === id);
        if (entry) {
          base = entry;
          break;
        }
      }
    }
    if (!base) return undefined;
    return logtoOrganization({ ...base, ...this.changed.get(id) });
  }

  // Every organization there is.
  all(rawUsers = []) {
    const ids = new Set([
      ...this.tenant.organizations().map((organization) => organization.id),
      ...rawUsers.flatMap((user) => (Array.isArray(user.organizations) ? user.organizations : [])
        .map((organization) => organization.id)),
      ...this.created.keys(),
    ]);
    return [...ids].map((id) => this.find(id, rawUsers)).filter(Boolean);
  }

  create({ id, name, description = null, customData = {} }, rawUsers) {
    const organizationId = id ?? newLogtoId();
    if (this.find(organizationId, rawUsers) || this.deleted.has(organizationId)) {
      throw Object.assign(new Error(`organization ${organizationId} exists`), { status: 409 });
    }
    this.created.set(organizationId, {
      id: organizationId, name, description, customData, createdAt: Date.now(),
    });
    return this.find(organizationId, rawUsers);
  }

  update(id, changes, rawUsers) {
    if (!this.find(id, rawUsers)) return undefined;
    this.changed.set(id, { ...this.changed.get(id), ...changes });
    return this.find(id, rawUsers);
  }

  // Like Logto: the organization and its memberships are gone (no membership event).
  delete(id, rawUsers) {
    const organization = this.find(id, rawUsers);
    if (!organization) return undefined;
    this.deleted.add(id);
    return organization;
  }

  // The roles `user` (a raw record) holds in the organization, or undefined when not a member.
  rolesOf(organizationId, user) {
    const override = this.memberships.get(membershipKey(organizationId, user.id));
    if (override === null) return undefined;
    if (override !== undefined) return override;
    const entry = (Array.isArray(user.organizations) ? user.organizations : [])
      .find((organization) => organization.id === organizationId);
    return entry ? (entry.roles ?? []) : undefined;
  }

  // Member ids this call makes members (those already in are left as they are).
  addMembers(organizationId, userIds, roles, rawUsers) {
    const added = [];
    for (const userId of userIds) {
      const user = rawUsers.find((candidate) => candidate.id === userId);
      if (this.rolesOf(organizationId, user) !== undefined) continue;
      this.memberships.set(membershipKey(organizationId, userId), [...roles]);
      added.push(userId);
    }
    return added;
  }

  // True when the user was a member.
  removeMember(organizationId, user) {
    if (this.rolesOf(organizationId, user) === undefined) return false;
    this.memberships.set(membershipKey(organizationId, user.id), null);
    return true;
  }

  // False when the user is not a member.
  setRoles(organizationId, user, roles) {
    if (this.rolesOf(organizationId, user) === undefined) return false;
    this.memberships.set(membershipKey(organizationId, user.id), [...roles]);
    return true;
  }

  // The user records with the memberships in effect: `organizations: [{id, name,
  // description, roles}]`, in the users file's order, then those added at run time.
  apply(rawUsers) {
    // Nothing changed at run time: the users file as it is (no extra reading).
    if (!this.created.size && !this.changed.size && !this.deleted.size && !this.memberships.size) {
      return rawUsers;
    }
    const listed = this.tenant.organizations();
    return rawUsers.map((user) => {
      const fromFile = Array.isArray(user.organizations) ? user.organizations : [];
      const ids = [...fromFile.map((organization) => organization.id)];
      for (const key of this.memberships.keys()) {
        const [organizationId, userId] = key.split('\u0000');
        if (userId === user.id && !ids.includes(organizationId)) ids.push(organizationId);
      }
      const organizations = [];
      for (const id of ids) {
        const roles = this.rolesOf(id, user);
        if (roles === undefined || this.deleted.has(id)) continue;
        // The user's own entry in the file names the organization, as without changes.
        const own = fromFile.find((organization) => organization.id === id);
        const organization = own
          ? { name: own.name ?? null, description: own.description ?? null, ...this.changed.get(id) }
          : this.find(id, rawUsers, listed);
        if (organization) {
          organizations.push({
            id, name: organization.name, description: organization.description, roles: [...roles],
          });
        }
      }
      return { ...user, organizations };
    });
  }
}

// Logto's organization object (Management API, webhooks' `data`).
function logtoOrganization(organization) {
  return {
    id: organization.id,
    name: organization.name ?? null,
    description: organization.description ?? null,
    customData: organization.customData ?? {},
    isMfaRequired: false,
    color: {},
    branding: {},
    customCss: null,
    createdAt: organization.createdAt ?? DEMO_CREATED_AT,
  };
}
