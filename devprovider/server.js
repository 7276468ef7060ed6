#!/usr/bin/env node
// Logto dev provider: a Logto-compatible OpenID provider for local development and tests of
// django-logto, built on oidc-provider. NOT FOR PRODUCTION: it keeps everything in memory
// and exposes unauthenticated debug endpoints (which can register redirect URIs).
//
//   node devprovider/server.js        (settings: DEV_PROVIDER_* environment variables)
//
// When ready it prints one line to stdout:
//   Logto dev provider listening on http://HOST:PORT (issuer http://HOST:PORT/oidc)
// Everything else (one line per request, errors) goes to stderr.

// First: it must run before oidc-provider's module evaluates (see lib/quiet.js).
import './lib/quiet.js';

import { randomBytes } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createMemoryAdapter } from './lib/adapter.js';
import { RedirectRegistry } from './lib/clients.js';
import { interactionHandlers } from './lib/interactions.js';
import { OrganizationDirectory, newLogtoId } from './lib/organizations.js';
import { landingPage, errorPage } from './lib/pages.js';
import { createProvider, generateSigningKey, resourceScopes } from './lib/provider.js';
import { counterKeyFor, Recorder } from './lib/recorder.js';
import { Tenant } from './lib/tenant.js';
import { UserDirectory, logtoUser, organizationsOf } from './lib/users.js';
import { Webhooks, managementContext } from './lib/webhooks.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OIDC_PREFIX = '/oidc';
const MAX_FORM_BYTES = 64 * 1024;
// The demo application's registered URIs (Django on port 8000, both loopback spellings).
const DEFAULT_REDIRECT_URIS = [
  'http://127.0.0.1:8000/logto/callback/',
  'http://localhost:8000/logto/callback/',
];
const DEFAULT_POST_LOGOUT_REDIRECT_URIS = ['http://127.0.0.1:8000/', 'http://localhost:8000/'];

const words = (value) => (value ?? '').split(/\s+/).filter(Boolean);

function positiveInteger(name, value, fallback, unit = 'seconds') {
  if (value === undefined || value === '') return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) {
    throw new Error(`${name} must be a positive integer (${unit}), got ${JSON.stringify(value)}`);
  }
  return number;
}

function readSettings(env) {
  const port = Number(env.DEV_PROVIDER_PORT ?? 3001);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`DEV_PROVIDER_PORT must be a port number, got ${JSON.stringify(env.DEV_PROVIDER_PORT)}`);
  }
  return {
    host: env.DEV_PROVIDER_HOST || '127.0.0.1',
    port,
    usersPath: path.resolve(env.DEV_PROVIDER_USERS || path.join(HERE, 'users.json')),
    tenantPath: path.resolve(env.DEV_PROVIDER_TENANT || path.join(HERE, 'tenant.json')),
    appId: env.DEV_PROVIDER_APP_ID || 'django-demo',
    appSecret: env.DEV_PROVIDER_APP_SECRET || 'django-demo-secret',
    m2mAppId: env.DEV_PROVIDER_M2M_APP_ID || 'django-m2m',
    m2mAppSecret: env.DEV_PROVIDER_M2M_APP_SECRET || 'django-m2m-secret',
    apiResource: env.DEV_PROVIDER_API_RESOURCE || 'http://127.0.0.1:8000/api',
    // Added to the defaults (space-separated); more at run time through the debug endpoint.
    redirectUris: [...DEFAULT_REDIRECT_URIS, ...words(env.DEV_PROVIDER_REDIRECT_URIS)],
    postLogoutRedirectUris: [
      ...DEFAULT_POST_LOGOUT_REDIRECT_URIS, ...words(env.DEV_PROVIDER_POST_LOGOUT_REDIRECT_URIS),
    ],
    // "1": rotate refresh tokens on every use (reuse revokes the grant) instead of Logto's rule.
    rotateRefreshTokens: ['1', 'true', 'yes'].includes((env.DEV_PROVIDER_ROTATE_REFRESH_TOKENS ?? '').toLowerCase()),
    // Set to an empty string to register the application without back-channel logout.
    backchannelLogoutUri: env.DEV_PROVIDER_BACKCHANNEL_LOGOUT_URI
      ?? 'http://127.0.0.1:8000/logto/back-channel-logout/',
    // Where the tenant's webhook delivers (empty: no hook; events are only recorded), and
    // the hook's signing key (Logto shows it on the webhook's page).
    webhookUrl: env.DEV_PROVIDER_WEBHOOK_URL ?? '',
    webhookSigningKey: env.DEV_PROVIDER_WEBHOOK_SIGNING_KEY || 'dev-webhook-signing-key',
    accessTokenTtl: positiveInteger('DEV_PROVIDER_ACCESS_TOKEN_TTL', env.DEV_PROVIDER_ACCESS_TOKEN_TTL, 3600),
    idTokenTtl: positiveInteger('DEV_PROVIDER_ID_TOKEN_TTL', env.DEV_PROVIDER_ID_TOKEN_TTL, 3600),
    // How long an idle keep-alive connection stays open; Node's default (and Logto's) is 5 s.
    keepAliveTimeoutMs: positiveInteger(
      'DEV_PROVIDER_KEEP_ALIVE_TIMEOUT_MS', env.DEV_PROVIDER_KEEP_ALIVE_TIMEOUT_MS, 5000, 'milliseconds',
    ),
    // The extended claims a Logto tenant puts in ID tokens (Console: "custom JWT" settings);
    // its default is these three. Set to "" to mimic a tenant that leaves them to userinfo.
    idTokenExtendedClaims: words(env.DEV_PROVIDER_ID_TOKEN_EXTENDED_CLAIMS
      ?? 'roles organizations organization_roles'),
  };
}

function log(line) {
  process.stderr.write(`[devprovider] ${line}\n`);
}

function sendJson(res, status, body) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

function sendHtml(res, status, html) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(html);
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readForm(req) {
  return new URLSearchParams(await readBody(req));
}

// A JSON object body, or undefined when the body is not one.
async function readJsonObject(req) {
  try {
    const body = JSON.parse((await readBody(req)) || '{}');
    return body && typeof body === 'object' && !Array.isArray(body) ? body : undefined;
  } catch {
    return undefined;
  }
}

const settings = readSettings(process.env);
const recorder = new Recorder();
const tenant = new Tenant(settings.tenantPath, { apiResource: settings.apiResource });
const organizations = new OrganizationDirectory(tenant);
const users = new UserDirectory(settings.usersPath, { organizations });
const webhooks = new Webhooks({
  url: settings.webhookUrl,
  signingKey: settings.webhookSigningKey,
  hookId: newLogtoId(21),
  recorder,
  log,
});
const registry = new RedirectRegistry();
registry.register(settings.appId, {
  redirect_uris: settings.redirectUris,
  post_logout_redirect_uris: settings.postLogoutRedirectUris,
});
// Shared by every Provider instance this process builds, so that rotating the signing key
// (which rebuilds the provider) keeps sessions, grants and tokens, and cookies stay valid.
const adapter = createMemoryAdapter();
const cookieKeys = [randomBytes(32).toString('base64url')];

let issuer;
let provider;
let providerCallback;
let currentKid;

// Build (or rebuild, on key rotation) the provider around one signing key. oidc-provider
// reads its keys once at construction, so a new key means a new instance; the old key is
// then gone from the JWKS and tokens it signed no longer verify, which is the point.
function installProvider(signingKey) {
  provider = createProvider({
    issuer, settings, users, tenant, registry, signingKey, cookieKeys, adapter, recorder, log,
  });
  providerCallback = provider.callback();
  return signingKey.kid;
}

const interactions = interactionHandlers({
  getProvider: () => provider,
  users,
  knownResources: () => resourceScopes(tenant),
  organizationPermissionsOf: async (accountId) => {
    const user = await users.findById(accountId);
    return user ? tenant.organizationPermissions(user) : [];
  },
  readForm,
  log,
});

const debugRoutes = {
  'GET /__dev__/health': (req, res) => sendJson(res, 200, { ok: true }),
  'GET /__dev__/counters': (req, res) => sendJson(res, 200, recorder.counters),
  'GET /__dev__/connections': (req, res) => sendJson(res, 200, recorder.connections),
  'GET /__dev__/auth-requests': (req, res) => sendJson(res, 200, recorder.authRequests),
  'GET /__dev__/backchannel': (req, res) => sendJson(res, 200, recorder.backchannelDeliveries),
  'GET /__dev__/webhooks': (req, res) => sendJson(res, 200, recorder.webhookDeliveries),
  // Send any event: {"event": "...", ...members of the body}; with `userId` and no `data`,
  // `data` is that user as Logto describes it. Answers the delivery.
  'POST /__dev__/webhooks': async (req, res) => {
    const body = await readJsonObject(req);
    if (!body || typeof body.event !== 'string' || !body.event) {
      sendJson(res, 400, { error: 'expected a JSON object with a string event' });
      return;
    }
    const { event, userId, ...fields } = body;
    if (userId !== undefined && fields.data === undefined) {
      const user = (await users.raw()).find((candidate) => candidate.id === userId);
      if (!user) {
        sendJson(res, 404, { error: 'unknown user', id: userId });
        return;
      }
      fields.data = logtoUser(user, { suspended: users.isSuspended(user) });
    }
    sendJson(res, 200, await webhooks.emit(event, fields));
  },
  'GET /__dev__/organizations': async (req, res) => {
    const effective = await users.all();
    sendJson(res, 200, organizations.all(await users.raw()).map((organization) => ({
      ...organization,
      members: effective.flatMap((user) => organizationsOf(user)
        .filter((membership) => membership.id === organization.id)
        .map((membership) => ({ id: user.id, roles: membership.roles }))),
    })));
  },
  // Like POST /api/organizations: {"name", "description"?, "id"?}; Organization.Created.
  'POST /__dev__/organizations': async (req, res) => {
    const body = await readJsonObject(req);
    if (!body || typeof body.name !== 'string' || !body.name
      || !['string', 'undefined'].includes(typeof body.id)
      || !(body.description === undefined || body.description === null || typeof body.description === 'string')) {
      sendJson(res, 400, { error: 'expected a JSON object with name, and optionally id and description' });
      return;
    }
    let organization;
    try {
      organization = organizations.create(body, await users.raw());
    } catch (error) {
      sendJson(res, error.status ?? 400, { error: error.message });
      return;
    }
    log(`organization ${organization.id} created`);
    await webhooks.emit('Organization.Created', {
      ...managementContext(req, {
        method: 'POST', route: '/api/organizations', path: '/api/organizations', status: 201,
      }),
      data: organization,
    });
    sendJson(res, 201, organization);
  },
  // Undo what the organization endpoints changed (no webhook): for tests sharing a provider.
  'POST /__dev__/reset-organizations': (req, res) => {
    organizations.reset();
    tenant.resetOrganizationScopes();
    log('organizations reset to the tenant and users files');
    sendJson(res, 200, { ok: true });
  },
  'POST /__dev__/reset': (req, res) => {
    recorder.reset();
    sendJson(res, 200, { ok: true });
  },
  'POST /__dev__/rotate-keys': (req, res) => {
    const previousKid = currentKid;
    currentKid = installProvider(generateSigningKey());
    log(`signing key rotated: ${previousKid} -> ${currentKid}`);
    sendJson(res, 200, { kid: currentKid, previous_kid: previousKid });
  },
};

// Debug routes with an id in the path: [method, pattern, handler(req, res, ...groups)].
const debugPatternRoutes = [
  // Register more redirect URIs: {"redirect_uris": [...], "post_logout_redirect_uris": [...]}.
  ['POST', /^\/__dev__\/clients\/([^/]+)\/redirect-uris$/, async (req, res, clientId) => {
    if (!registry.has(clientId)) {
      sendJson(res, 404, { error: 'unknown client', client_id: clientId });
      return;
    }
    const body = await readJsonObject(req);
    const lists = ['redirect_uris', 'post_logout_redirect_uris'];
    if (!body || lists.some((name) => body[name] !== undefined && !Array.isArray(body[name]))) {
      sendJson(res, 400, { error: 'expected a JSON object with lists redirect_uris, post_logout_redirect_uris' });
      return;
    }
    try {
      const registered = registry.register(clientId, body);
      log(`client ${clientId}: registered ${JSON.stringify(body)}`);
      sendJson(res, 200, registered);
    } catch (error) {
      sendJson(res, 400, { error: error.message });
    }
  }],
  ['GET', /^\/__dev__\/clients\/([^/]+)\/redirect-uris$/, (req, res, clientId) => {
    if (!registry.has(clientId)) sendJson(res, 404, { error: 'unknown client', client_id: clientId });
    else sendJson(res, 200, registry.describe(clientId));
  }],
  // Like Logto's Management API: no back-channel logout is sent; the user's refresh tokens
  // answer invalid_grant from now on and sign-in is refused. The webhook Logto sends:
  // User.SuspensionStatus.Updated or User.Deleted, `data` the user.
  ['POST', /^\/__dev__\/users\/([^/]+)\/(suspend|unsuspend|delete)$/, async (req, res, userId, action) => {
    const user = (await users.raw()).find((candidate) => candidate.id === userId);
    const done = action === 'delete'
      ? await users.delete(userId)
      : await users.setSuspended(userId, action === 'suspend');
    if (!done) {
      sendJson(res, 404, { error: 'unknown user', id: userId });
      return;
    }
    log(`user ${userId}: ${action}`);
    const context = action === 'delete'
      ? { event: 'User.Deleted', method: 'DELETE', route: '/api/users/:userId', path: `/api/users/${userId}`, status: 204 }
      : { event: 'User.SuspensionStatus.Updated', method: 'PATCH', route: '/api/users/:userId/is-suspended', path: `/api/users/${userId}/is-suspended`, status: 200 };
    await webhooks.emit(context.event, {
      ...managementContext(req, { ...context, params: { userId } }),
      data: logtoUser(user, { suspended: action === 'delete' ? users.isSuspended(user) : action === 'suspend' }),
    });
    sendJson(res, 200, { ok: true, id: userId, action });
  }],
  // Like PATCH /api/organizations/:id: {"name"?, "description"?}; Organization.Data.Updated
  // with the whole organization.
  ['PATCH', /^\/__dev__\/organizations\/([^/]+)$/, async (req, res, organizationId) => {
    const body = await readJsonObject(req);
    const changes = {};
    if (body && typeof body.name === 'string' && body.name) changes.name = body.name;
    if (body && (body.description === null || typeof body.description === 'string')) changes.description = body.description;
    if (!body || Object.keys(changes).length === 0) {
      sendJson(res, 400, { error: 'expected a JSON object with name and/or description' });
      return;
    }
    const organization = organizations.update(organizationId, changes, await users.raw());
    if (!organization) {
      sendJson(res, 404, { error: 'unknown organization', id: organizationId });
      return;
    }
    log(`organization ${organizationId} updated: ${JSON.stringify(changes)}`);
    await webhooks.emit('Organization.Data.Updated', {
      ...managementContext(req, {
        method: 'PATCH', route: '/api/organizations/:id', path: `/api/organizations/${organizationId}`, status: 200, params: { id: organizationId },
      }),
      data: organization,
    });
    sendJson(res, 200, organization);
  }],
  // Like DELETE /api/organizations/:id: Organization.Deleted with `params.id` only, and no
  // membership event for its members.
  ['DELETE', /^\/__dev__\/organizations\/([^/]+)$/, async (req, res, organizationId) => {
    if (!organizations.delete(organizationId, await users.raw())) {
      sendJson(res, 404, { error: 'unknown organization', id: organizationId });
      return;
    }
    log(`organization ${organizationId} deleted`);
    await webhooks.emit('Organization.Deleted', managementContext(req, {
      method: 'DELETE', route: '/api/organizations/:id', path: `/api/organizations/${organizationId}`, status: 204, params: { id: organizationId },
    }));
    sendJson(res, 200, { ok: true, id: organizationId });
  }],
  // Like POST /api/organizations/:id/users (and the roles of the new members in the same
  // call): {"userIds": [...], "roles"?: [...]}; Organization.Membership.Updated with
  // `addedUserIds` (no roles). Users already in are left as they are.
  ['POST', /^\/__dev__\/organizations\/([^/]+)\/users$/, async (req, res, organizationId) => {
    const body = await readJsonObject(req);
    const isList = (value) => Array.isArray(value) && value.every((item) => typeof item === 'string');
    if (!body || !isList(body.userIds) || body.userIds.length === 0 || !(body.roles === undefined || isList(body.roles))) {
      sendJson(res, 400, { error: 'expected a JSON object with a non-empty list userIds, and optionally a list roles' });
      return;
    }
    const raw = await users.raw();
    if (!organizations.find(organizationId, raw)) {
      sendJson(res, 404, { error: 'unknown organization', id: organizationId });
      return;
    }
    const unknown = body.userIds.filter((userId) => !raw.some((user) => user.id === userId));
    if (unknown.length) {
      sendJson(res, 404, { error: 'unknown user', ids: unknown });
      return;
    }
    const added = organizations.addMembers(organizationId, body.userIds, body.roles ?? [], raw);
    log(`organization ${organizationId}: added ${JSON.stringify(added)}`);
    if (added.length) {
      await webhooks.emit('Organization.Membership.Updated', {
        ...managementContext(req, {
          method: 'POST', route: '/api/organizations/:id/users', path: `/api/organizations/${organizationId}/users`, status: 201, params: { id: organizationId },
        }),
        organizationId,
        addedUserIds: added,
      });
    }
    sendJson(res, 200, { ok: true, id: organizationId, addedUserIds: added });
  }],
  // Like DELETE /api/organizations/:id/users/:userId: Organization.Membership.Updated with
  // `removedUserIds`.
  ['DELETE', /^\/__dev__\/organizations\/([^/]+)\/users\/([^/]+)$/, async (req, res, organizationId, userId) => {
    const raw = await users.raw();
    const user = raw.find((candidate) => candidate.id === userId);
    if (!organizations.find(organizationId, raw) || !user || !organizations.removeMember(organizationId, user)) {
      sendJson(res, 404, { error: 'not a member', id: organizationId, userId });
      return;
    }
    log(`organization ${organizationId}: removed ${userId}`);
    await webhooks.emit('Organization.Membership.Updated', {
      ...managementContext(req, {
        method: 'DELETE', route: '/api/organizations/:id/users/:userId', path: `/api/organizations/${organizationId}/users/${userId}`, status: 204, params: { id: organizationId, userId },
      }),
      organizationId,
      removedUserIds: [userId],
    });
    sendJson(res, 200, { ok: true, id: organizationId, removedUserIds: [userId] });
  }],
  // Like PUT /api/organizations/:id/users/:userId/roles: {"roles": [...]} replaces the
  // member's roles. Logto sends no webhook for it (the next ID token shows it).
  ['PUT', /^\/__dev__\/organizations\/([^/]+)\/users\/([^/]+)\/roles$/, async (req, res, organizationId, userId) => {
    const body = await readJsonObject(req);
    if (!body || !Array.isArray(body.roles) || !body.roles.every((role) => typeof role === 'string')) {
      sendJson(res, 400, { error: 'expected a JSON object with a list roles' });
      return;
    }
    const raw = await users.raw();
    const user = raw.find((candidate) => candidate.id === userId);
    if (!organizations.find(organizationId, raw) || !user || !organizations.setRoles(organizationId, user, body.roles)) {
      sendJson(res, 404, { error: 'not a member', id: organizationId, userId });
      return;
    }
    log(`organization ${organizationId}: ${userId} now has roles ${JSON.stringify(body.roles)} (no webhook)`);
    sendJson(res, 200, { ok: true, id: organizationId, userId, roles: body.roles });
  }],
  // Like POST /api/organization-roles/:id/scopes: {"scopes": [...]} (a scope the tenant does
  // not define yet is created first: OrganizationScope.Created); OrganizationRole.Scopes.Updated.
  // Tokens see the new permissions only after the next sign-in.
  ['POST', /^\/__dev__\/organization-roles\/([^/]+)\/scopes$/, async (req, res, role) => {
    const body = await readJsonObject(req);
    if (!body || !Array.isArray(body.scopes) || body.scopes.length === 0
      || !body.scopes.every((scope) => typeof scope === 'string' && /^\S+$/.test(scope))) {
      sendJson(res, 400, { error: 'expected a JSON object with a non-empty list scopes' });
      return;
    }
    const added = tenant.addOrganizationRoleScopes(role, body.scopes);
    if (!added) {
      sendJson(res, 404, { error: 'unknown organization role', id: role });
      return;
    }
    for (const scope of added.createdScopes) {
      await webhooks.emit('OrganizationScope.Created', {
        ...managementContext(req, {
          method: 'POST', route: '/api/organization-scopes', path: '/api/organization-scopes', status: 201,
        }),
        data: { id: scope, name: scope, description: null },
      });
    }
    log(`organization role ${role}: scopes ${JSON.stringify(added.addedScopes)} added`);
    await webhooks.emit('OrganizationRole.Scopes.Updated', {
      ...managementContext(req, {
        method: 'POST', route: '/api/organization-roles/:id/scopes', path: `/api/organization-roles/${role}/scopes`, status: 201, params: { id: role },
      }),
      organizationRoleId: role,
    });
    sendJson(res, 200, { ok: true, role, ...added });
  }],
];

function findDebugRoute(method, pathname) {
  const exact = debugRoutes[`${method} ${pathname}`];
  if (exact) return exact;
  for (const [routeMethod, pattern, handler] of debugPatternRoutes) {
    const match = routeMethod === method && pattern.exec(pathname);
    if (match) return (req, res) => handler(req, res, ...match.slice(1).map(decodeURIComponent));
  }
  return undefined;
}

async function route(req, res, url) {
  const { pathname } = url;

  if (!provider) {
    sendHtml(res, 503, errorPage('Starting', 'The provider is not ready yet.'));
    return;
  }

  if (pathname === OIDC_PREFIX || pathname.startsWith(`${OIDC_PREFIX}/`)) {
    if (pathname === `${OIDC_PREFIX}/auth`) recorder.recordAuthRequest(url.searchParams);
    // Mount oidc-provider under /oidc: it routes on req.url and derives the mount path for
    // the URLs it builds from req.originalUrl (the documented way to mount its callback).
    req.originalUrl = req.url;
    req.url = req.url.slice(OIDC_PREFIX.length) || '/';
    providerCallback(req, res);
    return;
  }

  const debugRoute = findDebugRoute(req.method, pathname);
  if (debugRoute) {
    await debugRoute(req, res);
    return;
  }

  const interaction = /^\/interaction\/([^/]+)(?:\/(login|abort))?$/.exec(pathname);
  if (interaction) {
    const [, uid, action] = interaction;
    const handler = {
      'GET ': interactions.show,
      'POST login': interactions.login,
      'POST abort': interactions.abort,
    }[`${req.method} ${action ?? ''}`];
    if (!handler) {
      sendHtml(res, 405, errorPage('Method not allowed', `${req.method} is not supported here.`));
      return;
    }
    try {
      await handler(req, res, uid);
    } catch (error) {
      interactions.renderError(res, error);
    }
    return;
  }

  if (req.method === 'GET' && pathname === '/') {
    sendHtml(res, 200, landingPage({ issuer, clientId: settings.appId, users: await users.all() }));
    return;
  }

  sendHtml(res, 404, errorPage('Not found', `Nothing at ${pathname}.`));
}

const server = http.createServer((req, res) => {
  const started = process.hrtime.bigint();
  const url = new URL(req.url, 'http://dev-provider.invalid');
  // Counted on arrival, so a client that reads the counters right after a response sees it.
  if (!url.pathname.startsWith('/__dev__/')) {
    recorder.count(counterKeyFor(url.pathname));
    recorder.countConnection(counterKeyFor(url.pathname), req.socket);
  }
  // One line per request; the path only, since query strings carry codes and tokens.
  res.on('finish', () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    log(`${req.method} ${url.pathname} ${res.statusCode} ${ms.toFixed(1)}ms`);
  });

  route(req, res, url).catch((error) => {
    log(`request failed: ${error.stack ?? error}`);
    if (!res.headersSent) sendHtml(res, 500, errorPage('Server error', error.message));
    else res.destroy();
  });
});

function urlHost(host) {
  return host.includes(':') ? `[${host}]` : host;
}

server.keepAliveTimeout = settings.keepAliveTimeoutMs;

server.on('error', (error) => {
  log(`cannot listen on ${settings.host}:${settings.port}: ${error.message}`);
  process.exit(1);
});

server.listen(settings.port, settings.host, () => {
  const { port } = server.address();
  const origin = `http://${urlHost(settings.host)}:${port}`;
  issuer = `${origin}${OIDC_PREFIX}`;
  currentKid = installProvider(generateSigningKey());
  log(`users file ${settings.usersPath}; application ${settings.appId}; signing key ${currentKid}`);
  process.stdout.write(`Logto dev provider listening on ${origin} (issuer ${issuer})\n`);
});

function shutdown(signal) {
  log(`${signal} received, shutting down`);
  server.close(() => process.exit(0));
  // Keep-alive connections would otherwise hold the server open.
  server.closeAllConnections();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
