// The oidc-provider instance, configured to look like a Logto 1.x tenant to its client:
// Logto's routes, scopes, claims, ES384 keys, PKCE, resource indicators with role-based
// scopes, organization tokens, refresh-token rotation, error shapes and back-channel logout,
// with one "Traditional web" application.
//
// DEVELOPMENT ONLY: outgoing requests may target loopback addresses, redirect URIs can be
// registered through an unauthenticated debug endpoint, and everything lives in memory.

import { createHash, generateKeyPairSync } from 'node:crypto';

import Provider, { errors, interactionPolicy } from 'oidc-provider';

import { logtoErrorShape, renderJsonError } from './errors.js';
import { logoutPage, signedOutPage } from './pages.js';
import { claimsFor, organizationsOf } from './users.js';

export const ORGANIZATIONS_SCOPE = 'urn:logto:scope:organizations';
export const ORGANIZATION_ROLES_SCOPE = 'urn:logto:scope:organization_roles';
// The SDK asks for this resource whenever the organizations scope is requested.
export const ORGANIZATIONS_RESOURCE = 'urn:logto:resource:organizations';
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

export const organizationUrn = (organizationId) => `urn:logto:organization:${organizationId}`;

// Logto's scopes (in the order its discovery document lists them) and the claims each one
// releases. oidc-provider derives `scopes_supported` and `claims_supported` from these.
export const OIDC_SCOPES = [
  'openid',
  'offline_access',
  'profile',
  'email',
  'phone',
  'address',
  'custom_data',
  'identities',
  'roles',
  ORGANIZATIONS_SCOPE,
  ORGANIZATION_ROLES_SCOPE,
  'urn:logto:scope:sessions',
  'urn:logto:scope:trusted_devices',
];

const CLAIMS = {
  openid: ['sub'],
  profile: [
    'name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username',
    'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at',
    'username', 'created_at',
  ],
  email: ['email', 'email_verified'],
  phone: ['phone_number', 'phone_number_verified'],
  address: ['address'],
  custom_data: ['custom_data'],
  identities: ['identities', 'sso_identities'],
  roles: ['roles'],
  [ORGANIZATIONS_SCOPE]: ['organizations', 'organization_data'],
  [ORGANIZATION_ROLES_SCOPE]: ['organization_roles'],
  // Logto's session-management scopes release no claims.
  'urn:logto:scope:sessions': [],
  'urn:logto:scope:trusted_devices': [],
};

// Logto's sign-in experience parameters; oidc-provider drops authorization request
// parameters it does not know, and the sign-in page shows these.
const EXTRA_PARAMS = ['first_screen', 'interaction_mode', 'direct_sign_in', 'identifier', 'organization_id'];

const DAY = 24 * 60 * 60;

// --- Signing keys -------------------------------------------------------------------------

// A fresh ES384 (P-384) signing key, identified like Logto's by its JWK thumbprint.
export function generateSigningKey() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const jwk = privateKey.export({ format: 'jwk' });
  // RFC 7638: SHA-256 over the required public members, in lexicographic order.
  const kid = createHash('sha256')
    .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
    .digest('base64url');
  return { ...jwk, kid, alg: 'ES384', use: 'sig' };
}

// --- Resources -------------------------------------------------------------------------------

// The scopes each known API resource defines, by resource indicator; Logto's organizations
// resource "defines" the organization permissions.
export function resourceScopes(tenant) {
  return new Map([...tenant.resourceScopes(), [ORGANIZATIONS_RESOURCE, tenant.organizationScopeNames()]]);
}

// What an access token for `indicator` may carry, as Logto decides it: a machine-to-machine
// application gets what it asks for among the resource's scopes (its role grants them all);
// a user gets what their global roles grant, plus what their organization roles grant: with
// `organization_id` (an organization-level API token) their roles in that organization, in a
// plain resource token their roles in any organization (as Logto does).
// Without a user yet (the authorization request only checks the resource), everything; the
// organizations resource too (what the sign-in grants of it is decided at consent).
async function grantableScopes(ctx, indicator, client, { tenant, users, settings }) {
  const defined = resourceScopes(tenant).get(indicator);
  const accountId = ctx.oidc.entities.Account?.accountId;
  if (client?.clientId === settings.m2mAppId || !accountId || indicator === ORGANIZATIONS_RESOURCE) {
    return defined;
  }
  const user = await users.findById(accountId);
  if (!user) return [];
  const scopes = new Set(tenant.userScopes(user, indicator));
  const organizationId = ctx.oidc.route === 'token' ? ctx.oidc.params?.organization_id : undefined;
  for (const scope of tenant.organizationScopes(user, organizationId || undefined, indicator)) scopes.add(scope);
  return defined.filter((scope) => scopes.has(scope));
}

function jwtAccessTokenFormat(settings) {
  return {
    accessTokenFormat: 'jwt',
    accessTokenTTL: settings.accessTokenTtl,
    jwt: { sign: { alg: 'ES384' } },
  };
}

// --- Organization tokens -----------------------------------------------------------------------

// Logto's organization tokens, both from a refresh_token grant carrying `organization_id`:
// - without `resource`: a JWT access token whose audience is urn:logto:organization:<id>,
//   whose `scope` is the user's permissions in that organization (their organization roles'
//   organization scopes, now) among those the sign-in granted on the organizations resource
//   (consent granted the requested ones the user held then: a permission a role gains
//   mid-session only shows after the next sign-in); a refresh asking a scope the sign-in
//   did not grant is the stock handler's invalid_scope;
// - with `resource` (an organization-level API token): audience the resource, an
//   `organization_id` claim (extraTokenClaims) and the scopes the organization roles and
//   the global roles grant on it (grantableScopes).
// The stock refresh_token handler does all the usual work (client and token checks,
// rotation, reuse detection, the ID token); this wrapper checks organization access first
// and, without a resource, swaps the access token afterwards.
function withOrganizationTokens(provider, refreshTokenGrant, { users, settings, tenant }) {
  return async function refreshTokenGrantWithOrganizations(ctx) {
    const organizationId = ctx.oidc.params.organization_id;
    if (!organizationId) {
      return refreshTokenGrant(ctx);
    }

    // Before the stock handler runs: with rotation it consumes the refresh token straight
    // away, so refusing afterwards would leave the client without a usable refresh token.
    await assertOrganizationAccess(provider, users, ctx, organizationId);
    await refreshTokenGrant(ctx);
    if (ctx.oidc.params.resource === undefined) {
      await swapForOrganizationToken(provider, { settings, users, tenant }, ctx, organizationId);
    }
    return undefined;
  };
}

// The `organization_id` claim of an organization-level API token.
async function organizationIdClaim(ctx, token) {
  const organizationId = ctx.oidc.route === 'token' ? ctx.oidc.params?.organization_id : undefined;
  if (!organizationId || token.kind !== 'AccessToken' || !token.resourceServer) return undefined;
  if (token.resourceServer.audience === organizationUrn(organizationId)) return undefined;
  return { organization_id: organizationId };
}

async function assertOrganizationAccess(provider, users, ctx, organizationId) {
  const refreshToken = await provider.RefreshToken.find(ctx.oidc.params.refresh_token, {
    ignoreExpiration: true,
  });
  // Unknown, foreign, expired or already used: the stock handler gives the standard answer
  // (invalid_grant, and revoking the whole grant on reuse).
  if (
    !refreshToken
    || refreshToken.clientId !== ctx.oidc.client.clientId
    || refreshToken.isExpired
    || refreshToken.consumed
  ) {
    return;
  }

  // The same errors Logto answers with.
  if (!refreshToken.scopes.has(ORGANIZATIONS_SCOPE)) {
    throw new errors.InsufficientScope('refresh token missing required scope', ORGANIZATIONS_SCOPE);
  }
  const user = await users.findActive(refreshToken.accountId);
  // A suspended or deleted user: the stock handler answers invalid_grant.
  if (!user) return;
  if (!organizationsOf(user).some((organization) => organization.id === organizationId)) {
    const error = new errors.AccessDenied('user is not a member of the organization');
    error.status = 403;
    error.statusCode = 403;
    throw error;
  }
}

async function swapForOrganizationToken(provider, { settings, users, tenant }, ctx, organizationId) {
  // The stock handler issued an opaque access token for the userinfo endpoint; the client
  // never sees it, so drop it and issue the organization token on the same grant instead.
  const issued = ctx.oidc.entities.AccessToken;
  await issued.destroy();

  const audience = organizationUrn(organizationId);
  const token = new provider.AccessToken({
    accountId: issued.accountId,
    client: ctx.oidc.client,
    expiresWithSession: issued.expiresWithSession,
    grantId: issued.grantId,
    gty: issued.gty,
    sessionUid: issued.sessionUid,
    sid: issued.sid,
  });
  // The user's permissions in the organization now, among those granted at sign-in (and,
  // with `scope` on the refresh, among those asked for). None: no `scope` claim, as in
  // Logto's sample organization token.
  const { Grant: grant, RefreshToken: refreshToken } = ctx.oidc.entities;
  const asked = ctx.oidc.params.scope ? ctx.oidc.requestParamScopes : refreshToken.scopes;
  const granted = new Set(grant.getResourceScopeFiltered(ORGANIZATIONS_RESOURCE, [...asked]).split(' '));
  const user = await users.findById(issued.accountId);
  const scope = (user ? tenant.organizationPermissions(user, organizationId) : [])
    .filter((permission) => granted.has(permission))
    .join(' ');
  token.resourceServer = new provider.ResourceServer(audience, {
    audience,
    scope,
    ...jwtAccessTokenFormat(settings),
  });
  if (scope) token.scope = scope;
  ctx.oidc.entity('AccessToken', token);
  const value = await token.save();

  ctx.body = { ...ctx.body, access_token: value, expires_in: token.expiration, scope };
}

// oidc-provider registers its stock grant handlers through registerGrantType while it is
// being constructed; overriding the method is how the refresh_token handler gets wrapped
// (and learns the extra `organization_id` parameter) without copying its internals.
const withOrganizationSupport = new WeakSet();

function providerClass(options) {
  return class LogtoDevProvider extends Provider {
    registerGrantType(name, handler, parameters, duplicates) {
      if (name === 'refresh_token') {
        withOrganizationSupport.add(this);
        return super.registerGrantType(
          name,
          withOrganizationTokens(this, handler, options),
          new Set([...(parameters ?? []), 'organization_id']),
          duplicates,
        );
      }
      return super.registerGrantType(name, handler, parameters, duplicates);
    }
  };
}

// --- Back-channel logout delivery ---------------------------------------------------------

function decodeJwtPayload(jwt) {
  try {
    return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

// oidc-provider calls this for every outgoing request; here the only ones are back-channel
// logout notifications. It passes an undici dispatcher that refuses loopback and private
// addresses (an SSRF guard); a development app listens on exactly such an address, so the
// dispatcher is dropped. Every attempt is recorded for GET /__dev__/backchannel.
function recordingFetch(recorder, log) {
  return async function devFetch(url, { dispatcher, ...options }) {
    const logoutToken = options.body instanceof URLSearchParams
      ? options.body.get('logout_token') ?? undefined
      : undefined;
    const claims = logoutToken ? decodeJwtPayload(logoutToken) : undefined;
    const delivery = {
      at: new Date().toISOString(),
      target: String(url),
      sub: claims?.sub,
      sid: claims?.sid,
      logout_token: logoutToken,
    };
    try {
      const response = await globalThis.fetch(url, options);
      delivery.status = response.status;
      return response;
    } catch (error) {
      delivery.error = error.cause?.message ? `${error.message}: ${error.cause.message}` : error.message;
      throw error;
    } finally {
      recorder.recordBackchannelDelivery(delivery);
      log(`back-channel logout to ${delivery.target}: ${delivery.status ?? delivery.error}`);
    }
  };
}

// --- The provider ----------------------------------------------------------------------------

function clientMetadata(settings) {
  const metadata = {
    client_id: settings.appId,
    client_secret: settings.appSecret,
    client_name: 'Django demo (Traditional web)',
    application_type: 'web',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    // client_secret_post is accepted as well: oidc-provider treats the two secret methods
    // as interchangeable for a client registered with either.
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES384',
    // The lists that count are the registry's (clients.js), which starts from these.
    redirect_uris: settings.redirectUris,
    post_logout_redirect_uris: settings.postLogoutRedirectUris,
  };
  if (settings.backchannelLogoutUri) {
    metadata.backchannel_logout_uri = settings.backchannelLogoutUri;
    metadata.backchannel_logout_session_required = true;
  }
  return metadata;
}

// A Logto "Machine-to-machine" application: client_credentials only, no user. With
// `resource` (the API) and `scope`, it gets a JWT access token whose `sub` is its client id.
function machineClientMetadata(settings) {
  return {
    client_id: settings.m2mAppId,
    client_secret: settings.m2mAppSecret,
    client_name: 'Django demo (Machine-to-machine)',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  };
}

const LOGGED_ERRORS = [
  'authorization.error',
  'end_session.error',
  'grant.error',
  'introspection.error',
  'revocation.error',
  'userinfo.error',
  'backchannel.error',
];

// Logto's refresh-token rotation (oidc-provider's default rule): a confidential client's
// refresh token is returned unchanged until 70% of its lifetime has passed; a public
// client's rotates on every use. Reusing the same token is harmless until it rotates.
function logtoRotation(ctx) {
  const { RefreshToken: refreshToken, Client: client } = ctx.oidc.entities;
  if (client.clientAuthMethod === 'none') return true;
  return refreshToken.ttlPercentagePassed() >= 70;
}

// oidc-provider's prompts, plus: a provider session whose user has since been suspended or
// deleted (findAccount finds nobody) asks for a new login, which is then refused.
function interactionPolicyWithInactiveAccounts() {
  const policy = interactionPolicy.base();
  policy.get('login').checks.add(new interactionPolicy.Check(
    'account_inactive',
    'the signed-in user is suspended or deleted',
    (ctx) => Boolean(ctx.oidc.session.accountId && !ctx.oidc.account),
  ));
  return policy;
}

// Advertised by Logto; the dev provider does not simulate it (its application may not use it).
async function tokenExchangeNotSimulated() {
  throw new errors.UnsupportedGrantType('token exchange is not simulated by the dev provider');
}

export function createProvider({
  issuer, settings, users, tenant, registry, signingKey, cookieKeys, adapter, recorder, log,
}) {
  const LogtoDevProvider = providerClass({ users, settings, tenant });

  const provider = new LogtoDevProvider(issuer, {
    adapter,
    clients: [clientMetadata(settings), machineClientMetadata(settings)],
    jwks: { keys: [signingKey] },
    cookies: { keys: cookieKeys },

    scopes: OIDC_SCOPES,
    claims: CLAIMS,
    extraParams: EXTRA_PARAMS,
    // Like Logto: the ID token carries the granted scopes' claims, not only `sub`.
    conformIdTokenClaims: false,
    clientDefaults: { id_token_signed_response_alg: 'ES384' },
    enabledJWA: {
      idTokenSigningAlgValues: ['ES384'],
      userinfoSigningAlgValues: ['ES384'],
      introspectionSigningAlgValues: ['ES384'],
      authorizationSigningAlgValues: ['ES384'],
    },
    // Like Logto: PKCE (S256 only) is required from public clients; a confidential client
    // may leave it out, and when it sends it, it is verified.
    pkce: { required: (ctx, client) => client.clientAuthMethod === 'none' },
    // DEV_PROVIDER_ROTATE_REFRESH_TOKENS=1: a new refresh token on every use, and reusing a
    // used one revokes the grant (for tests of rotation); otherwise Logto's rule.
    rotateRefreshToken: settings.rotateRefreshTokens ? true : logtoRotation,
    responseTypes: ['code id_token', 'code', 'id_token', 'none'],
    clientBasedCORS: (ctx, origin, client) => registry.originAllowed(client.clientId, origin),
    extraTokenClaims: organizationIdClaim,

    // Suspended and deleted users have no account: their refresh tokens answer
    // invalid_grant and a provider session of theirs no longer counts as signed in.
    async findAccount(ctx, sub) {
      const user = await users.findActive(sub);
      if (!user) return undefined;
      return {
        accountId: user.id,
        claims: async (use) => claimsFor(user, use, settings.idTokenExtendedClaims),
      };
    },

    interactions: {
      url: (ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: interactionPolicyWithInactiveAccounts(),
    },

    features: {
      devInteractions: { enabled: false },
      // Logto's discovery document advertises no DPoP.
      dPoP: { enabled: false },
      userinfo: { enabled: true },
      clientCredentials: { enabled: true },
      // Advertised like Logto's (device_authorization_endpoint); not used by the app.
      deviceFlow: { enabled: true },
      // Logto's (and oidc-provider's default) policies, stated so that oidc-provider does
      // not print a NOTICE asking for them: a client revokes only its own tokens; a
      // confidential client may introspect any token.
      revocation: {
        enabled: true,
        allowedPolicy: async (ctx, client, token) => {
          if (token.clientId !== client.clientId) {
            if (client.clientAuthMethod === 'none') return false;
            throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
          }
          return true;
        },
      },
      introspection: {
        enabled: true,
        allowedPolicy: async (ctx, client, token) => client.clientAuthMethod !== 'none'
          || token.clientId === client.clientId,
      },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.type = 'html';
          ctx.body = logoutPage(form);
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.type = 'html';
          ctx.body = signedOutPage();
        },
      },
      resourceIndicators: {
        enabled: true,
        // As in Logto: a token request without `resource` gets a userinfo access token,
        // never one for a resource granted at authorization.
        useGrantedResource: async () => false,
        getResourceServerInfo: async (ctx, indicator, client) => {
          if (!resourceScopes(tenant).has(indicator)) {
            throw new errors.InvalidTarget();
          }
          const scopes = await grantableScopes(ctx, indicator, client, { tenant, users, settings });
          return { scope: scopes.join(' '), ...jwtAccessTokenFormat(settings) };
        },
      },
    },

    fetch: recordingFetch(recorder, log),

    ttl: {
      AccessToken: settings.accessTokenTtl,
      AuthorizationCode: 60,
      IdToken: settings.idTokenTtl,
      Interaction: 60 * 60,
      RefreshToken: 14 * DAY,
      Session: 14 * DAY,
      Grant: 180 * DAY,
    },

    // Errors that cannot be redirected to the client: Logto answers JSON, not a page.
    renderError: renderJsonError,
  });

  // Fail loudly if an oidc-provider upgrade stops registering its grants this way.
  if (!withOrganizationSupport.has(provider)) {
    throw new Error('oidc-provider did not register refresh_token through registerGrantType: organization tokens would be missing');
  }
  registry.install(provider);
  provider.registerGrantType(TOKEN_EXCHANGE, tokenExchangeNotSimulated, new Set(['subject_token', 'subject_token_type']));
  provider.use(logtoErrorShape);

  // Count token requests by grant type for GET /__dev__/counters (paths are counted by the
  // HTTP server; the grant type is only known once oidc-provider has parsed the body).
  provider.use(async (ctx, next) => {
    try {
      await next();
    } finally {
      if (ctx.oidc?.route === 'token') {
        recorder.count(`token:${ctx.oidc.params?.grant_type ?? 'unknown'}`);
      }
    }
  });

  for (const event of LOGGED_ERRORS) {
    provider.on(event, (ctx, error) => {
      // error_detail holds the specific reason (e.g. "refresh token already used").
      const detail = error?.error_detail ?? error?.error_description ?? error?.message ?? '';
      log(`${event}: ${error?.error ?? error?.name ?? 'error'}${detail ? ` (${detail})` : ''}`);
    });
  }
  provider.on('server_error', (ctx, error) => log(`server_error: ${error?.stack ?? error}`));

  return provider;
}
