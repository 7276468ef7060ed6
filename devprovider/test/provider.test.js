// End-to-end tests of the Logto dev provider: the server runs as a child process (port 0)
// and is driven over HTTP with fetch, following redirects by hand with a tiny cookie jar,
// the way a browser and the Django app would.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Browser, SERVER, b64url, decodeJwt, pkce } from './support.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const APP_ID = 'test-app';
const APP_SECRET = 'test-app-secret';
const API = 'http://127.0.0.1:8000/api';
const M2M_ID = 'test-m2m';
const M2M_SECRET = 'test-m2m-secret';
const REDIRECT_URI = 'http://127.0.0.1:8000/logto/callback/';
const ORG_SCOPE = 'urn:logto:scope:organizations';
const ORG_RESOURCE = 'urn:logto:resource:organizations';
const ACME = 'acme4p9x2k7z';
const GLOBEX = 'globex8m3q5t';
const FULL_SCOPE = [
  'openid', 'offline_access', 'profile', 'email', 'phone', 'roles', 'custom_data', 'identities',
  ORG_SCOPE, 'urn:logto:scope:organization_roles', 'read:profile',
].join(' ');

let child;
let origin;
let issuer;
let workDir;
let usersPath;
let receiver;
const logoutTokens = [];
let receiverStatus = 200;

// --- helpers ---------------------------------------------------------------------------------

// Verify an ES384 JWS against the provider's current JWKS; returns the decoded token.
async function verifyJwt(jwt) {
  const token = decodeJwt(jwt);
  assert.equal(token.header.alg, 'ES384');
  const { keys } = await getJson('/oidc/jwks');
  const jwk = keys.find((key) => key.kid === token.header.kid);
  assert.ok(jwk, `kid ${token.header.kid} is in the JWKS`);
  const valid = verify(
    'sha384',
    Buffer.from(token.signingInput),
    { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' },
    token.signature,
  );
  assert.ok(valid, 'signature verifies');
  return token;
}

async function getJson(pathname, init) {
  const response = await fetch(`${origin}${pathname}`, init);
  assert.equal(response.status, 200, `${pathname} answers 200`);
  return response.json();
}

const postDev = (pathname) => getJson(pathname, { method: 'POST' });

function authorizationUrl(params) {
  const url = new URL(`${issuer}/auth`);
  for (const [name, value] of Object.entries(params)) {
    for (const item of [].concat(value)) if (item != null) url.searchParams.append(name, item);
  }
  return url;
}

function formOf(html) {
  const form = /<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(html);
  assert.ok(form, 'page has a form');
  const fields = {};
  for (const [, name, value] of form[2].matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) {
    fields[name] = value;
  }
  return { action: form[1].replaceAll('&amp;', '&'), fields };
}

// Run an authorization request to the end. Signs in on the login page when one is shown.
async function authorize(browser, {
  username = 'alice',
  password = `${username}-password`,
  scope = FULL_SCOPE,
  resource = [API, ORG_RESOURCE],
  prompt = 'consent',
  extra = {},
} = {}) {
  const { verifier, challenge } = pkce();
  const state = b64url(randomBytes(12));
  const nonce = b64url(randomBytes(12));
  let response = await browser.follow(authorizationUrl({
    client_id: APP_ID,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    scope,
    resource,
    prompt,
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  }));
  if (response.status === 200 && response.text_.includes('name="password"')) {
    const action = /<form method="post" action="([^"]+\/login)"/.exec(response.text_)[1];
    response = await browser.follow(action, { method: 'POST', form: { username, password } });
  }
  assert.equal(response.status, 303, `authorization ends in a redirect: ${response.text_.slice(0, 300)}`);
  const redirect = new URL(response.headers.get('location'));
  assert.equal(`${redirect.origin}${redirect.pathname}`, REDIRECT_URI);
  return {
    redirect, state, nonce, verifier, code: redirect.searchParams.get('code'),
  };
}

async function tokenRequest(form, { basic = false } = {}) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  const body = new URLSearchParams(form);
  if (basic) {
    headers.authorization = `Basic ${Buffer.from(`${APP_ID}:${APP_SECRET}`).toString('base64')}`;
  } else {
    // What the Logto Python SDK does: credentials in the form body (client_secret_post).
    body.set('client_id', APP_ID);
    body.set('client_secret', APP_SECRET);
  }
  const response = await fetch(`${issuer}/token`, { method: 'POST', headers, body });
  return { status: response.status, body: await response.json() };
}

async function exchangeCode({ code, verifier }) {
  return tokenRequest({
    grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT_URI,
  });
}

async function signInAndExchange(options = {}) {
  const browser = options.browser ?? new Browser(origin);
  const result = await authorize(browser, options);
  const tokens = await exchangeCode(result);
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  return { browser, ...result, tokens: tokens.body };
}

async function userinfo(accessToken) {
  const response = await fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  return { status: response.status, body: await response.json() };
}

// --- server lifecycle ----------------------------------------------------------------------

before(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'devprovider-test-'));
  usersPath = path.join(workDir, 'users.json');
  await copyFile(path.join(HERE, '..', 'users.json'), usersPath);

  // Stands in for the Django app's back-channel logout endpoint.
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      logoutTokens.push(new URLSearchParams(body).get('logout_token'));
      res.statusCode = receiverStatus;
      res.end();
    });
  });
  await new Promise((resolve) => { receiver.listen(0, '127.0.0.1', resolve); });

  child = spawn(process.execPath, [SERVER], {
    env: {
      ...process.env,
      DEV_PROVIDER_PORT: '0',
      DEV_PROVIDER_USERS: usersPath,
      DEV_PROVIDER_APP_ID: APP_ID,
      DEV_PROVIDER_APP_SECRET: APP_SECRET,
      DEV_PROVIDER_M2M_APP_ID: M2M_ID,
      DEV_PROVIDER_M2M_APP_SECRET: M2M_SECRET,
      DEV_PROVIDER_BACKCHANNEL_LOGOUT_URI: `http://127.0.0.1:${receiver.address().port}/logto/back-channel-logout/`,
      DEV_PROVIDER_REDIRECT_URIS: 'http://testserver/logto/callback/',
      DEV_PROVIDER_POST_LOGOUT_REDIRECT_URIS: 'http://127.0.0.1:8123/signed-out',
      DEV_PROVIDER_ROTATE_REFRESH_TOKENS: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr = [];
  child.stderr.on('data', (chunk) => stderr.push(chunk));
  origin = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /^Logto dev provider listening on (http:\/\/\S+) \(issuer (\S+)\)$/m.exec(out);
      if (match) {
        issuer = match[2];
        resolve(match[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${Buffer.concat(stderr)}`)));
  });
});

after(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => { child.on('exit', resolve); });
    child.kill('SIGTERM');
    assert.equal(await exited, 0, 'the server exits cleanly on SIGTERM');
  }
  receiver?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

// --- tests -------------------------------------------------------------------------------------

test('prints the issuer on a real port and answers health', async () => {
  assert.match(origin, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(new URL(origin).port, '0');
  assert.equal(issuer, `${origin}/oidc`);
  assert.deepEqual(await getJson('/__dev__/health'), { ok: true });
  const home = await fetch(origin);
  const html = await home.text();
  assert.match(html, /Development provider — not for production/);
  assert.match(html, /development and tests only/);
  assert.ok(html.includes(issuer));
  assert.match(html, /<code>alice<\/code>/);
});

test('discovery looks like Logto', async () => {
  const discovery = await getJson('/oidc/.well-known/openid-configuration');
  const logto = JSON.parse(await readFile(path.join(HERE, '..', '..', '..', 'shared', 'logto-samples', 'discovery.json'), 'utf8').catch(() => 'null'));
  assert.equal(discovery.issuer, issuer);
  assert.equal(discovery.authorization_endpoint, `${issuer}/auth`);
  assert.equal(discovery.token_endpoint, `${issuer}/token`);
  assert.equal(discovery.userinfo_endpoint, `${issuer}/me`);
  assert.equal(discovery.jwks_uri, `${issuer}/jwks`);
  assert.equal(discovery.end_session_endpoint, `${issuer}/session/end`);
  assert.equal(discovery.revocation_endpoint, `${issuer}/token/revocation`);
  assert.equal(discovery.introspection_endpoint, `${issuer}/token/introspection`);
  assert.deepEqual(discovery.id_token_signing_alg_values_supported, ['ES384']);
  assert.deepEqual(discovery.code_challenge_methods_supported, ['S256']);
  assert.equal(discovery.authorization_response_iss_parameter_supported, true);
  assert.equal(discovery.backchannel_logout_supported, true);
  assert.equal(discovery.backchannel_logout_session_supported, true);
  assert.equal(discovery.claims_parameter_supported, false);
  for (const scope of ['openid', 'profile', 'email', 'phone', 'roles', 'custom_data', 'identities',
    ORG_SCOPE, 'urn:logto:scope:organization_roles', 'offline_access']) {
    assert.ok(discovery.scopes_supported.includes(scope), scope);
  }
  for (const claim of ['sub', 'name', 'username', 'picture', 'email', 'email_verified', 'phone_number',
    'roles', 'organizations', 'organization_data', 'organization_roles', 'custom_data', 'identities']) {
    assert.ok(discovery.claims_supported.includes(claim), claim);
  }
  if (logto) {
    // Where both list them, the values are the same as a real Logto 1.42's.
    assert.deepEqual(discovery.scopes_supported, logto.scopes_supported);
    assert.deepEqual(discovery.claims_supported, logto.claims_supported);
    assert.deepEqual(discovery.token_endpoint_auth_methods_supported, logto.token_endpoint_auth_methods_supported);
  }
  const { keys } = await getJson('/oidc/jwks');
  assert.equal(keys.length, 1);
  assert.equal(keys[0].kty, 'EC');
  assert.equal(keys[0].crv, 'P-384');
  assert.equal(keys[0].alg, 'ES384');
  assert.ok(keys[0].kid);
  assert.equal(keys[0].d, undefined, 'no private key material');
});

test('login page shows the request; wrong password is a 401; sign-in redirects with code, state, iss', async () => {
  const browser = new Browser(origin);
  const { challenge } = pkce();
  const page = await browser.follow(authorizationUrl({
    client_id: APP_ID,
    redirect_uri: 'http://testserver/logto/callback/',
    response_type: 'code',
    scope: 'openid profile',
    state: 'xyz',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    login_hint: 'bob',
    first_screen: 'register',
    direct_sign_in: 'social:azuread',
  }));
  assert.equal(page.status, 200);
  assert.match(page.text_, /Development provider — not for production/);
  assert.match(page.text_, /<h1>Create your account<\/h1>/);
  assert.match(page.text_, /Continue with azuread \(simulated\)/);
  assert.match(page.text_, /name="username" value="bob"/);
  assert.match(page.text_, /<button type="submit">Sign in<\/button>/);
  assert.match(page.text_, /<code>carol<\/code>/);

  const action = /action="(\/interaction\/[^"]+\/login)"/.exec(page.text_)[1];
  const refused = await browser.request(action, { method: 'POST', form: { username: 'bob', password: 'nope' } });
  assert.equal(refused.status, 401);
  assert.match(refused.text_, /Invalid username or password/);

  const signedIn = await browser.follow(action, { method: 'POST', form: { username: 'bob', password: 'bob-password' } });
  assert.equal(signedIn.status, 303);
  const redirect = new URL(signedIn.headers.get('location'));
  assert.equal(`${redirect.origin}${redirect.pathname}`, 'http://testserver/logto/callback/');
  assert.ok(redirect.searchParams.get('code'));
  assert.equal(redirect.searchParams.get('state'), 'xyz');
  assert.equal(redirect.searchParams.get('iss'), issuer);
});

test('interaction_mode=signUp also opens the registration heading; HTML is escaped', async () => {
  const browser = new Browser(origin);
  const page = await browser.follow(authorizationUrl({
    client_id: APP_ID,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    scope: 'openid',
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
    interaction_mode: 'signUp',
    login_hint: '"><script>alert(1)</script>',
  }));
  assert.match(page.text_, /<h1>Create your account<\/h1>/);
  assert.ok(!page.text_.includes('<script>alert(1)</script>'));
  assert.match(page.text_, /&quot;&gt;&lt;script&gt;/);
});

test('code exchange (client_secret_post) returns a verified ES384 ID token with Logto claims', async () => {
  const { tokens, nonce } = await signInAndExchange({ username: 'alice' });
  assert.equal(tokens.token_type, 'Bearer');
  assert.ok(tokens.refresh_token, 'offline_access + prompt=consent gives a refresh token');
  assert.equal(tokens.access_token.split('.').length, 1, 'opaque access token without resource');

  const { header, payload } = await verifyJwt(tokens.id_token);
  assert.equal(header.kid, (await getJson('/oidc/jwks')).keys[0].kid);
  assert.equal(payload.iss, issuer);
  assert.equal(payload.aud, APP_ID);
  assert.equal(payload.sub, 'alice0k7x2qm');
  assert.equal(payload.nonce, nonce);
  assert.equal(payload.name, 'Alice Admin');
  assert.equal(payload.username, 'alice');
  assert.equal(payload.preferred_username, 'alice');
  assert.equal(payload.email, 'alice@example.com');
  assert.equal(payload.email_verified, true);
  assert.equal(payload.phone_number, '+15555550101');
  assert.equal(payload.created_at, 1767225600000);
  assert.deepEqual(payload.roles, ['admin']);
  assert.deepEqual(payload.organizations, [ACME, GLOBEX]);
  assert.deepEqual(payload.organization_roles, [`${ACME}:admin`, `${GLOBEX}:member`]);
  assert.equal(payload.exp - payload.iat, 3600);
  assert.ok(payload.sid);
  for (const userinfoOnly of ['organization_data', 'custom_data', 'identities', 'at_hash']) {
    assert.equal(payload[userinfoOnly], undefined, `${userinfoOnly} is not in the ID token`);
  }
});

test('userinfo adds custom_data, identities and organization_data', async () => {
  const { tokens } = await signInAndExchange({ username: 'alice' });
  const { status, body } = await userinfo(tokens.access_token);
  assert.equal(status, 200);
  assert.equal(body.sub, 'alice0k7x2qm');
  assert.deepEqual(body.custom_data, { department: 'Engineering', preferences: { theme: 'dark' } });
  assert.equal(body.identities.azuread.userId, '7d3f2b9e-4c1a-4e8b-9f60-2a5c8e1d0b34');
  assert.deepEqual(body.organization_data[0], {
    id: ACME, name: 'Acme', description: 'Acme Corporation, the demo organization',
  });
  assert.deepEqual(body.roles, ['admin']);
});

test('a user without profile data gets JSON nulls, like Logto', async () => {
  const { tokens } = await signInAndExchange({ username: 'carol' });
  const { payload } = await verifyJwt(tokens.id_token);
  assert.equal(payload.name, null);
  assert.equal(payload.email, null);
  assert.equal(payload.picture, null);
  assert.equal(payload.email_verified, false);
  assert.deepEqual(payload.roles, []);
  assert.deepEqual(payload.organizations, []);
  const info = await userinfo(tokens.access_token);
  assert.equal(info.body.name, null);
  assert.deepEqual(info.body.organization_data, []);
  assert.deepEqual(info.body.custom_data, {});
});

test('refresh with a resource returns a JWT access token for that API', async () => {
  const { tokens } = await signInAndExchange({ username: 'bob' });
  const refreshed = await tokenRequest({
    grant_type: 'refresh_token', refresh_token: tokens.refresh_token, resource: API,
  }, { basic: true });
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  const { header, payload } = await verifyJwt(refreshed.body.access_token);
  assert.equal(header.typ, 'at+jwt');
  assert.equal(payload.aud, API);
  assert.equal(payload.scope, 'read:profile');
  assert.equal(payload.client_id, APP_ID);
  assert.equal(payload.sub, 'bob00f3n8wzt');
  assert.equal(payload.iss, issuer);
  assert.equal(payload.exp - payload.iat, 3600);
  assert.ok(payload.jti);

  const unknown = await tokenRequest({
    grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token, resource: 'http://127.0.0.1:9/other',
  });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.error, 'invalid_target');
});

test('a machine-to-machine app gets a JWT for the API with client_credentials', async () => {
  const basic = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  const request = (form, authorization) => fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization },
    body: new URLSearchParams(form),
  });
  const response = await request(
    { grant_type: 'client_credentials', resource: API, scope: 'read:profile write:profile' },
    basic(M2M_ID, M2M_SECRET),
  );
  const body = await response.json();
  assert.equal(response.status, 200, JSON.stringify(body));
  assert.equal(body.refresh_token, undefined);
  assert.equal(body.id_token, undefined);
  const { header, payload } = await verifyJwt(body.access_token);
  assert.equal(header.typ, 'at+jwt');
  assert.equal(payload.aud, API);
  assert.equal(payload.sub, M2M_ID);
  assert.equal(payload.client_id, M2M_ID);
  assert.equal(payload.scope, 'read:profile write:profile');

  const wrongSecret = await request({ grant_type: 'client_credentials', resource: API }, basic(M2M_ID, 'nope'));
  assert.equal(wrongSecret.status, 401);
  // The web application may not use the grant.
  const webApp = await request({ grant_type: 'client_credentials', resource: API }, basic(APP_ID, APP_SECRET));
  assert.equal(webApp.status, 400);
  assert.equal((await webApp.json()).access_token, undefined);
});

test('organization tokens for members; refusals leave the refresh token usable', async () => {
  const { tokens } = await signInAndExchange({ username: 'bob' });
  let refreshToken = tokens.refresh_token;

  const organization = await tokenRequest({
    grant_type: 'refresh_token', refresh_token: refreshToken, organization_id: ACME,
  });
  assert.equal(organization.status, 200, JSON.stringify(organization.body));
  const { header, payload } = await verifyJwt(organization.body.access_token);
  assert.equal(header.typ, 'at+jwt');
  assert.equal(payload.aud, `urn:logto:organization:${ACME}`);
  assert.equal(payload.client_id, APP_ID);
  assert.equal(payload.sub, 'bob00f3n8wzt');
  assert.equal(payload.scope, undefined);
  assert.ok(organization.body.refresh_token);
  assert.ok(organization.body.id_token);
  refreshToken = organization.body.refresh_token;

  const outsider = await tokenRequest({
    grant_type: 'refresh_token', refresh_token: refreshToken, organization_id: GLOBEX,
  });
  assert.equal(outsider.status, 403);
  assert.equal(outsider.body.error, 'access_denied');

  // An organization-level API token: audience the API, an organization_id claim.
  const combined = await tokenRequest({
    grant_type: 'refresh_token', refresh_token: refreshToken, organization_id: ACME, resource: API,
  });
  assert.equal(combined.status, 200, JSON.stringify(combined.body));
  const orgApi = (await verifyJwt(combined.body.access_token)).payload;
  assert.equal(orgApi.aud, API);
  assert.equal(orgApi.organization_id, ACME);

  // Still usable after the refusal.
  const again = await tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken });
  assert.equal(again.status, 200, JSON.stringify(again.body));

  const withoutScope = await signInAndExchange({
    username: 'alice', scope: 'openid offline_access profile', resource: [],
  });
  const noScope = await tokenRequest({
    grant_type: 'refresh_token', refresh_token: withoutScope.tokens.refresh_token, organization_id: ACME,
  });
  assert.equal(noScope.status, 403);
  assert.equal(noScope.body.error, 'insufficient_scope');
});

test('by default a refresh returns the same refresh token, which stays usable (Logto)', async () => {
  const { tokens } = await signInAndExchange({ username: 'alice' });
  const first = await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
  assert.equal(first.status, 200);
  assert.equal(first.body.refresh_token, tokens.refresh_token);
  assert.ok(first.body.id_token);

  const again = await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
  assert.equal(again.status, 200, JSON.stringify(again.body));
});

test('revocation ends a refresh token', async () => {
  const { tokens } = await signInAndExchange({ username: 'bob' });
  const response = await fetch(`${issuer}/token/revocation`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      token: tokens.refresh_token, token_type_hint: 'refresh_token', client_id: APP_ID, client_secret: APP_SECRET,
    }),
  });
  assert.equal(response.status, 200);
  const after = await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
  assert.equal(after.body.error, 'invalid_grant');
});

test('no refresh token without prompt=consent', async () => {
  // offline_access is asked for, but without prompt=consent (null: leave the parameter out).
  const { tokens } = await signInAndExchange({ username: 'bob', prompt: null });
  assert.equal(tokens.refresh_token, undefined);
  assert.ok(tokens.id_token);
});

test('PKCE S256 only (optional for the confidential client); unregistered redirect URIs are refused', async () => {
  const browser = new Browser(origin);

  const plain = await browser.request(authorizationUrl({
    client_id: APP_ID, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid',
    code_challenge: 'x'.repeat(43), code_challenge_method: 'plain',
  }));
  assert.equal(new URL(plain.headers.get('location')).searchParams.get('error'), 'invalid_request');

  const foreign = await browser.request(authorizationUrl({
    client_id: APP_ID, redirect_uri: 'http://example.com/callback', response_type: 'code', scope: 'openid',
    code_challenge: pkce().challenge, code_challenge_method: 'S256',
  }));
  assert.equal(foreign.status, 400);
  assert.equal(foreign.headers.get('location'), null);
  assert.equal(JSON.parse(foreign.text_).error, 'invalid_redirect_uri');
});

test('cancelling the sign-in returns access_denied to the client', async () => {
  const browser = new Browser(origin);
  const page = await browser.follow(authorizationUrl({
    client_id: APP_ID, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid', state: 'c1',
    code_challenge: pkce().challenge, code_challenge_method: 'S256',
  }));
  const abort = /action="(\/interaction\/[^"]+\/abort)"/.exec(page.text_)[1];
  const response = await browser.follow(abort, { method: 'POST' });
  const redirect = new URL(response.headers.get('location'));
  assert.equal(redirect.searchParams.get('error'), 'access_denied');
  assert.equal(redirect.searchParams.get('state'), 'c1');
});

// A GET over node:http with `agent` (keep-alive or not); resolves once the body is read.
function httpGet(pathname, agent) {
  return new Promise((resolve, reject) => {
    http.get(`${origin}${pathname}`, { agent }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode));
    }).on('error', reject);
  });
}

test('connections counts the TCP connections each path was requested on', async () => {
  await postDev('/__dev__/reset');
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < 3; i += 1) assert.equal(await httpGet('/oidc/jwks', keepAlive), 200);
  assert.equal(await httpGet('/oidc/jwks', new http.Agent({ keepAlive: false })), 200);
  assert.equal(await httpGet('/oidc/.well-known/openid-configuration', keepAlive), 200);
  keepAlive.destroy();

  assert.equal((await getJson('/__dev__/counters'))['/oidc/jwks'], 4);
  const connections = await getJson('/__dev__/connections');
  assert.equal(connections['/oidc/jwks'], 2);
  assert.equal(connections['/oidc/.well-known/openid-configuration'], 1);
  await postDev('/__dev__/reset');
  assert.deepEqual(await getJson('/__dev__/connections'), {});
});

test('counters and recorded authorization requests', async () => {
  assert.deepEqual(await postDev('/__dev__/reset'), { ok: true });
  assert.deepEqual(await getJson('/__dev__/counters'), {});
  await getJson('/oidc/.well-known/openid-configuration');
  const { tokens } = await signInAndExchange({ username: 'alice', extra: { first_screen: 'sign_in' } });
  await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
  await userinfo(tokens.access_token);

  const counters = await getJson('/__dev__/counters');
  assert.equal(counters['/oidc/.well-known/openid-configuration'], 1);
  assert.equal(counters['/oidc/auth'], 1);
  assert.equal(counters['/oidc/auth/:uid'], 1);
  assert.equal(counters['/interaction/:uid'], 1);
  assert.equal(counters['/interaction/:uid/login'], 1);
  assert.equal(counters['/oidc/token'], 2);
  assert.equal(counters['token:authorization_code'], 1);
  assert.equal(counters['token:refresh_token'], 1);
  assert.equal(counters['/oidc/me'], 1);
  assert.equal(counters['/oidc/jwks'], undefined);

  const requests = await getJson('/__dev__/auth-requests');
  assert.equal(requests.length, 1);
  assert.equal(requests[0].client_id, APP_ID);
  assert.equal(requests[0].first_screen, 'sign_in');
  assert.equal(requests[0].code_challenge_method, 'S256');
  assert.deepEqual(requests[0].resource, [API, ORG_RESOURCE]);
});

test('a changed users file is seen at the next sign-in', async () => {
  const users = JSON.parse(await readFile(usersPath, 'utf8'));
  users.find((user) => user.username === 'bob').roles = ['staff', 'auditor'];
  await writeFile(usersPath, JSON.stringify(users));
  const { tokens } = await signInAndExchange({ username: 'bob' });
  assert.deepEqual((await verifyJwt(tokens.id_token)).payload.roles, ['staff', 'auditor']);
});

test('rotating keys replaces the signing key and keeps sessions', async () => {
  const browser = new Browser(origin);
  await signInAndExchange({ browser, username: 'alice' });
  const before = (await getJson('/oidc/jwks')).keys.map((key) => key.kid);
  const rotated = await postDev('/__dev__/rotate-keys');
  assert.equal(rotated.previous_kid, before[0]);
  const afterKids = (await getJson('/oidc/jwks')).keys.map((key) => key.kid);
  assert.deepEqual(afterKids, [rotated.kid]);
  assert.notEqual(rotated.kid, before[0]);

  // Same browser: the provider session survived, so no login page this time.
  const { verifier, challenge } = pkce();
  const response = await browser.follow(authorizationUrl({
    client_id: APP_ID, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid roles',
    prompt: 'consent', code_challenge: challenge, code_challenge_method: 'S256',
  }));
  assert.equal(response.status, 303);
  const code = new URL(response.headers.get('location')).searchParams.get('code');
  const tokens = await exchangeCode({ code, verifier });
  const { header } = await verifyJwt(tokens.body.id_token);
  assert.equal(header.kid, rotated.kid);
});

test('RP-initiated logout: an auto-submitting form, then back-channel logout and the redirect', async () => {
  await postDev('/__dev__/reset');
  logoutTokens.length = 0;
  const { browser, tokens } = await signInAndExchange({ username: 'alice' });
  const sid = decodeJwt(tokens.id_token).payload.sid;

  const params = new URLSearchParams({
    client_id: APP_ID,
    post_logout_redirect_uri: 'http://127.0.0.1:8123/signed-out',
    id_token_hint: tokens.id_token,
    state: 'bye',
  });
  const page = await browser.request(`${issuer}/session/end?${params}`);
  assert.equal(page.status, 200);
  assert.match(page.text_, /\.submit\(\)/, 'submits itself');
  assert.match(page.text_, /<button type="submit">Sign out<\/button>/);
  const { action, fields } = formOf(page.text_);
  assert.equal(action, `${issuer}/session/end/confirm`);
  assert.ok(fields.xsrf);
  assert.equal(fields.logout, 'yes');

  const done = await browser.request(action, { method: 'POST', form: fields });
  assert.equal(done.status, 303);
  assert.equal(done.headers.get('location'), 'http://127.0.0.1:8123/signed-out?state=bye');

  assert.equal(logoutTokens.length, 1);
  const logoutToken = await verifyJwt(logoutTokens[0]);
  assert.equal(logoutToken.header.typ, 'logout+jwt');
  assert.equal(logoutToken.payload.sub, 'alice0k7x2qm');
  assert.equal(logoutToken.payload.sid, sid);
  assert.equal(logoutToken.payload.aud, APP_ID);
  assert.equal(logoutToken.payload.exp - logoutToken.payload.iat, 120);
  assert.ok(logoutToken.payload.events['http://schemas.openid.net/event/backchannel-logout']);

  const deliveries = await getJson('/__dev__/backchannel');
  assert.equal(deliveries.length, 1);
  assert.equal(deliveries[0].status, 200);
  assert.equal(deliveries[0].sid, sid);
  assert.equal(deliveries[0].sub, 'alice0k7x2qm');
  assert.match(deliveries[0].target, /\/logto\/back-channel-logout\/$/);

  // The provider session is gone: the next sign-in shows the login page again.
  const next = await browser.follow(authorizationUrl({
    client_id: APP_ID, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid',
    code_challenge: pkce().challenge, code_challenge_method: 'S256',
  }));
  assert.equal(next.status, 200);
  assert.match(next.text_, /name="password"/);
});

test('a failing back-channel receiver is recorded and does not break logout', async () => {
  await postDev('/__dev__/reset');
  receiverStatus = 500;
  try {
    const { browser } = await signInAndExchange({ username: 'bob' });
    const page = await browser.request(`${issuer}/session/end?${new URLSearchParams({
      client_id: APP_ID, post_logout_redirect_uri: 'http://localhost:8000/',
    })}`);
    const { action, fields } = formOf(page.text_);
    const done = await browser.request(action, { method: 'POST', form: fields });
    assert.equal(done.status, 303);
    assert.equal(done.headers.get('location'), 'http://localhost:8000/');
    const [delivery] = await getJson('/__dev__/backchannel');
    assert.equal(delivery.status, 500);
    assert.deepEqual(await getJson('/__dev__/health'), { ok: true });
  } finally {
    receiverStatus = 200;
  }
});
