// The tenant's API resources and what its roles grant on them, as in Logto's Console:
// an API resource defines permissions (scopes); a role (global) or an organization role
// carries some of them. An access token for a resource gets exactly the requested scopes
// that the user's roles grant for it (none: no `scope` claim).
//
// tenant.json:
//   "resources":          [{ "name", "indicator", "scopes": [...] }]
//   "roles":              { role: { resource name: [scopes] } }
//   "organization_roles": { role: { resource name: [scopes] } }
// The resource named "api" takes its indicator from DEV_PROVIDER_API_RESOURCE when set.
// The file is read again at every lookup, like the users file.

import { readFileSync } from 'node:fs';

import { organizationsOf } from './users.js';

export class Tenant {
  constructor(path, { apiResource } = {}) {
    this.path = path;
    this.apiResource = apiResource;
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
    return { resources, roles: tenant.roles ?? {}, organizationRoles: tenant.organization_roles ?? {} };
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

  // The scopes the user's roles in `organizationId` grant for `indicator`.
  organizationScopes(user, organizationId, indicator) {
    const { resources, organizationRoles } = this.read();
    const membership = organizationsOf(user).find((organization) => organization.id === organizationId);
    return granted(resources, indicator, (membership?.roles ?? []).map((role) => organizationRoles[role]));
  }
}

// Union of what each role grants on the resource, in the order the resource lists them.
function granted(resources, indicator, roleGrants) {
  const resource = resources.find((candidate) => candidate.indicator === indicator);
  if (!resource) return [];
  const scopes = new Set(roleGrants.flatMap((grants) => grants?.[resource.name] ?? []));
  return resource.scopes.filter((scope) => scopes.has(scope));
}
