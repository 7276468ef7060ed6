// The tenant's API resources and what its roles grant on them, as in Logto's Console:
// an API resource defines permissions (scopes); a role (global) or an organization role
// carries some of them. An access token for a resource gets exactly the requested scopes
// that the user's roles grant for it (none: no `scope` claim).
//
// tenant.json:
//   "resources":          [{ "name", "indicator", "scopes": [...] }]
//   "roles":              { role: { resource name: [scopes] } }
//   "organization_roles": { role: { resource name: [scopes] } }
//   "organizations":      [{ "id", "name", "description" }]  (memberships are in users.json)
//   "organization_scopes": [names]   the organization permissions ("organization scopes")
//   "organization_role_scopes": { role: [organization scopes] }
// The resource named "api" takes its indicator from DEV_PROVIDER_API_RESOURCE when set.
// The file is read again at every lookup, like the users file; organization scopes added to
// a role at run time (POST /__dev__/organization-roles/:role/scopes) are kept in memory.

import { readFileSync } from 'node:fs';

import { organizationsOf } from './users.js';

export class Tenant {
  constructor(path, { apiResource } = {}) {
    this.path = path;
    this.apiResource = apiResource;
    this.addedOrganizationScopes = new Set();
    this.addedRoleScopes = new Map(); // organization role -> Set of organization scopes
  }

  read() {
    let tenant;
    try {
      tenant = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch (error) {
      throw new Error(`cannot read the tenant file ${this.path}: ${error.message}`, { cause: error });
    }
    const resources = (tenant.resources ?? []).map((resource) => ({
      name: resource.name,
      indicator: resource.name === 'api' && this.apiResource ? this.apiResource : resource.indicator,
      scopes: resource.scopes ?? [],
    }));
    const organizationRoleScopes = {};
    for (const [role, scopes] of Object.entries(tenant.organization_role_scopes ?? {})) {
      organizationRoleScopes[role] = [...(scopes ?? [])];
    }
    for (const [role, scopes] of this.addedRoleScopes) {
      organizationRoleScopes[role] = [...new Set([...(organizationRoleScopes[role] ?? []), ...scopes])];
    }
    return {
      resources,
      roles: tenant.roles ?? {},
      organizationRoles: tenant.organization_roles ?? {},
      organizations: (tenant.organizations ?? []).map(({ id, name, description }) => ({
        id, name: name ?? null, description: description ?? null,
      })),
      organizationScopes: [...new Set([...(tenant.organization_scopes ?? []), ...this.addedOrganizationScopes])],
      organizationRoleScopes,
    };
  }

  // Forget the organization scopes added at run time.
  resetOrganizationScopes() {
    this.addedOrganizationScopes.clear();
    this.addedRoleScopes.clear();
  }

  // The organizations the tenant file lists.
  organizations() {
    return this.read().organizations;
  }

  // The organization permissions (organization scopes) the tenant defines.
  organizationScopeNames() {
    return this.read().organizationScopes;
  }

  // Organization roles the tenant defines (with API scopes, organization scopes or both).
  organizationRoleNames() {
    const { organizationRoles, organizationRoleScopes } = this.read();
    return [...new Set([...Object.keys(organizationRoles), ...Object.keys(organizationRoleScopes)])];
  }

  // Like Logto's Console: give an organization role more organization scopes (created when
  // new). Returns { createdScopes, addedScopes } or undefined for an unknown role.
  addOrganizationRoleScopes(role, scopes) {
    if (!this.organizationRoleNames().includes(role)) return undefined;
    const { organizationScopes, organizationRoleScopes } = this.read();
    const createdScopes = scopes.filter((scope) => !organizationScopes.includes(scope));
    const addedScopes = scopes.filter((scope) => !(organizationRoleScopes[role] ?? []).includes(scope));
    for (const scope of createdScopes) this.addedOrganizationScopes.add(scope);
    if (!this.addedRoleScopes.has(role)) this.addedRoleScopes.set(role, new Set());
    for (const scope of scopes) this.addedRoleScopes.get(role).add(scope);
    return { createdScopes: [...new Set(createdScopes)], addedScopes: [...new Set(addedScopes)] };
  }

  // The organization permissions the user's roles in `organizationId` carry; without an
  // organization, those of every organization the user is in. In the tenant's order.
  organizationPermissions(user, organizationId) {
    const { organizationScopes, organizationRoleScopes } = this.read();
    const memberships = organizationsOf(user)
      .filter((organization) => organizationId === undefined || organization.id === organizationId);
    const held = new Set(memberships.flatMap((membership) => (membership.roles ?? [])
      .flatMap((role) => organizationRoleScopes[role] ?? [])));
    return organizationScopes.filter((scope) => held.has(scope));
  }

  // Every resource indicator with the scopes it defines.
  resourceScopes() {
    return new Map(this.read().resources.map(({ indicator, scopes }) => [indicator, scopes]));
  }

  // The scopes the user's global roles grant for `indicator`.
  userScopes(user, indicator) {
    const { resources, roles } = this.read();
    return granted(resources, indicator, (user.roles ?? []).map((role) => roles[role]));
  }

  // The scopes the user's roles in `organizationId` grant for `indicator`; without an
  // organization, what their roles in any organization grant (Logto puts those in a plain
  // resource token too).
  organizationScopes(user, organizationId, indicator) {
    const { resources, organizationRoles } = this.read();
    const memberships = organizationsOf(user)
      .filter((organization) => organizationId === undefined || organization.id === organizationId);
    return granted(resources, indicator, memberships
      .flatMap((membership) => (membership.roles ?? []).map((role) => organizationRoles[role])));
  }
}

// Union of what each role grants on the resource, in the order the resource lists them.
function granted(resources, indicator, roleGrants) {
  const resource = resources.find((candidate) => candidate.indicator === indicator);
  if (!resource) return [];
  const scopes = new Set(roleGrants.flatMap((grants) => grants?.[resource.name] ?? []));
  return resource.scopes.filter((scope) => scopes.has(scope));
}
