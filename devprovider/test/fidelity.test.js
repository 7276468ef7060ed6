// The dev provider fails where Logto fails. Each test pins one behaviour of a real Logto 1.42
// (see /work/shared/logto-samples and DESIGN.md, "Facts that shape the design" → Logto), with
// the numbers of the issue that made the dev provider faithful:
//   1 redirect URIs, 2 post-logout redirect URIs, 3 API scopes from roles,
//   4 organization-level API tokens, 5 refresh tokens, 6 wire details, 7 suspension/deletion.

import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { APP_ID, startProvider } from './support.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const API = 'http://127.0.0.1:8000/api';
const ACME = 'acme4p9x2k7z';
const GLOBEX = 'globex8m3q5t';
const CALLBACK = 'http://127.0.0.1:8000/logto/callback/';
const ORG_SCOPES = 'openid offline_access profile roles urn:logto:scope:organizations read:profile write:profile read:org';

let workDir;
let logto; // Logto's defaults
let rotating; // DEV_PROVIDER_ROTATE_REFRESH_TOKENS=1

before(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'devprovider-fidelity-'));
  const usersPath = path.join(workDir, 'users.json');
  await copyFile(path.join(HERE, '..', 'users.json'), usersPath);
  // Profile fields for bob, to see them in claims.
  const users = JSON.parse(await readFile(usersPath, 'utf8'));
  Object.assign(users.find((user) => user.username === 'bob'), {
    given_name: 'Bob', family_name: 'Staff', nickname: 'bobby', locale: 'en-US', zoneinfo: 'Europe/Paris',
  });
  await writeFile(usersPath, JSON.stringify(users));
  const env = {
    DEV_PROVIDER_USERS: usersPath,
    DEV_PROVIDER_BACKCHANNEL_LOGOUT_URI: 'http://127.0.0.1:9/logto/back-channel-logout/',
    DEV_PROVIDER_REDIRECT_URIS: 'http://127.0.0.1:8555/extra/callback/',
    DEV_PROVIDER_POST_LOGOUT_REDIRECT_URIS: 'http://127.0.0.1:8555/bye',
  };
  [logto, rotating] = await Promise.all([
    startProvider({ ...env, DEV_PROVIDER_ROTATE_REFRESH_TOKENS: '' }),
    startProvider({ ...env, DEV_PROVIDER_ROTATE_REFRESH_TOKENS: '1' }),
  ]);
});

after(async () => {
  await Promise.all([logto?.stop(), rotating?.stop()]);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

const scopeOf = async (provider, jwt) => (await provider.verify(jwt)).scope;

// --- 1. Redirect URIs ----------------------------------------------------------------------

test('1: only registered redirect URIs; anything else is a 400 JSON invalid_redirect_uri, no redirect', async () => {
  for (const redirectUri of [CALLBACK, 'http://localhost:8000/logto/callback/', 'http://127.0.0.1:8555/extra/callback/']) {
    const { response } = await logto.authorize({ redirectUri });
    assert.equal(response.status, 303, redirectUri);
    assert.ok(response.headers.get('location').startsWith(`${redirectUri}?`), redirectUri);
  }
  for (const redirectUri of [
    'http://127.0.0.1:8000/other/callback/', // another path
    'http://127.0.0.1:8001/logto/callback/', // another port
    'http://127.0.0.1:8000/logto/callback', // no trailing slash
    'http://testserver/logto/callback/', // not registered yet
    'http://localhost:8555/extra/callback/', // registered only as 127.0.0.1
  ]) {
    const { response } = await logto.authorize({ redirectUri });
    assert.equal(response.status, 400, redirectUri);
    assert.equal(response.headers.get('location'), null, redirectUri);
    assert.match(response.headers.get('content-type'), /^application\/json/);
    const body = JSON.parse(response.text_);
    assert.equal(body.error, 'invalid_redirect_uri');
    assert.equal(body.code, 'oidc.invalid_redirect_uri');
    assert.equal(body.message, body.error_description);
  }
});

test('1: redirect URIs can be registered at run time', async () => {
  const uri = 'http://testserver/logto/callback/';
  assert.equal((await logto.authorize({ redirectUri: uri })).response.status, 400);
  const registered = await logto.json(`/__dev__/clients/${APP_ID}/redirect-uris`, {
    method: 'POST', body: { redirect_uris: [uri], post_logout_redirect_uris: ['http://testserver/'] },
  });
  assert.equal(registered.status, 200);
  assert.ok(registered.body.redirect_uris.includes(uri));
  assert.ok(registered.body.redirect_uris.includes(CALLBACK), 'added to the defaults');
  assert.ok(registered.body.post_logout_redirect_uris.includes('http://testserver/'));
  assert.equal((await logto.authorize({ redirectUri: uri })).response.status, 303);

  const bad = await logto.json(`/__dev__/clients/${APP_ID}/redirect-uris`, {
    method: 'POST', body: { redirect_uris: ['not a uri'] },
  });
  assert.equal(bad.status, 400);
  const unknown = await logto.json('/__dev__/clients/nope/redirect-uris', { method: 'POST', body: {} });
  assert.equal(unknown.status, 404);
});

// --- 2. Post-logout redirect URIs -----------------------------------------------------------

test('2: an unregistered post_logout_redirect_uri is a 400 JSON invalid_request', async () => {
  const { browser } = await logto.signIn({ username: 'bob' });
  const endSession = (uri) => browser.request(`${logto.issuer}/session/end?${new URLSearchParams({
    client_id: APP_ID, post_logout_redirect_uri: uri,
  })}`);
  for (const uri of ['http://127.0.0.1:8001/', 'http://127.0.0.1:8000/elsewhere', 'http://localhost:8555/bye']) {
    const response = await endSession(uri);
    assert.equal(response.status, 400, uri);
    assert.equal(response.headers.get('location'), null);
    const body = JSON.parse(response.text_);
    assert.equal(body.error, 'invalid_request');
    assert.equal(body.error_description, 'post_logout_redirect_uri not registered');
    assert.equal(body.code, 'oidc.invalid_request');
  }
  for (const uri of ['http://127.0.0.1:8000/', 'http://localhost:8000/', 'http://127.0.0.1:8555/bye']) {
    assert.equal((await endSession(uri)).status, 200, uri); // the logout confirmation page
  }
});

// --- 3. API scopes come from roles -----------------------------------------------------------

test('3: an API token carries exactly the scopes the user\'s roles grant; none: no scope claim', async () => {
  // alice's read:org comes from her organization role in Acme: Logto puts what organization
  // roles grant in plain resource tokens too.
  const expected = { alice: 'read:profile write:profile read:org', bob: 'read:profile', carol: undefined };
  for (const [username, scope] of Object.entries(expected)) {
    const tokens = await logto.signIn({ username, resource: [API] });
    const refreshed = await logto.refresh(tokens.refresh_token, { resource: API });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    const payload = await logto.verify(refreshed.body.access_token);
    assert.equal(payload.aud, API);
    assert.equal(payload.scope, scope, username);
    assert.equal(refreshed.body.scope, scope ?? '', username);
  }
});

// --- 4. Organization-level API tokens --------------------------------------------------------

test('4: organization_id with resource gives an organization-level API token', async () => {
  const alice = await logto.signIn({ username: 'alice', scope: ORG_SCOPES, resource: [API] });
  const acme = await logto.refresh(alice.refresh_token, { organization_id: ACME, resource: API });
  assert.equal(acme.status, 200, JSON.stringify(acme.body));
  const payload = await logto.verify(acme.body.access_token);
  assert.equal(payload.aud, API);
  assert.equal(payload.organization_id, ACME);
  assert.equal(payload.sub, 'alice0k7x2qm');
  // Acme's admin role grants read:org; her global role admin the rest.
  assert.equal(payload.scope, 'read:profile write:profile read:org');

  // In Globex she is a member: global roles' scopes only.
  const globex = await logto.refresh(alice.refresh_token, { organization_id: GLOBEX, resource: API });
  assert.equal(await scopeOf(logto, globex.body.access_token), 'read:profile write:profile');

  // Without organization_id: a plain resource token, which (as in Logto) also carries what
  // her roles in any organization grant (read:org from Acme).
  const plain = await logto.refresh(alice.refresh_token, { resource: API });
  assert.equal((await logto.verify(plain.body.access_token)).organization_id, undefined);
  assert.equal(await scopeOf(logto, plain.body.access_token), 'read:profile write:profile read:org');

  const bob = await logto.signIn({ username: 'bob', scope: ORG_SCOPES, resource: [API] });
  const bobAcme = await logto.refresh(bob.refresh_token, { organization_id: ACME, resource: API });
  assert.equal(await scopeOf(logto, bobAcme.body.access_token), 'read:profile');
  const outsider = await logto.refresh(bob.refresh_token, { organization_id: GLOBEX, resource: API });
  assert.equal(outsider.status, 403);
  assert.equal(outsider.body.error, 'access_denied');

  // Without resource: the organization token, audience urn:logto:organization:<id>.
  const organization = await logto.refresh(alice.refresh_token, { organization_id: ACME });
  const orgPayload = await logto.verify(organization.body.access_token);
  assert.equal(orgPayload.aud, `urn:logto:organization:${ACME}`);
  assert.equal(orgPayload.organization_id, undefined);
});

// --- 5. Refresh tokens -----------------------------------------------------------------------

test('5: Logto returns the same refresh token on each use; reuse revokes nothing', async () => {
  const tokens = await logto.signIn({ username: 'alice', resource: [API] });
  for (let use = 0; use < 3; use += 1) {
    const refreshed = await logto.refresh(tokens.refresh_token);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.equal(refreshed.body.refresh_token, tokens.refresh_token);
  }
});

test('5: an unknown resource is invalid_target and leaves the refresh token usable (Logto)', async () => {
  const tokens = await logto.signIn({ username: 'bob' });
  const unknown = await logto.refresh(tokens.refresh_token, { resource: 'http://127.0.0.1:9/other' });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.error, 'invalid_target');
  assert.equal((await logto.refresh(tokens.refresh_token)).status, 200);
});

test('5: with DEV_PROVIDER_ROTATE_REFRESH_TOKENS=1 every use rotates and reuse revokes the grant', async () => {
  const tokens = await rotating.signIn({ username: 'alice' });
  const first = await rotating.refresh(tokens.refresh_token);
  assert.equal(first.status, 200);
  assert.notEqual(first.body.refresh_token, tokens.refresh_token);
  const reused = await rotating.refresh(tokens.refresh_token);
  assert.equal(reused.status, 400);
  assert.equal(reused.body.error, 'invalid_grant');
  assert.equal((await rotating.refresh(first.body.refresh_token)).body.error, 'invalid_grant', 'grant revoked');

  // invalid_target after the token was already consumed.
  const other = await rotating.signIn({ username: 'bob' });
  const unknown = await rotating.refresh(other.refresh_token, { resource: 'http://127.0.0.1:9/other' });
  assert.equal(unknown.body.error, 'invalid_target');
  assert.equal((await rotating.refresh(other.refresh_token)).body.error, 'invalid_grant');
});

// --- 6. Wire details -------------------------------------------------------------------------

test('6: JSON errors carry code and message, and error_uri for invalid_grant', async () => {
  const unknown = await logto.refresh('no-such-token');
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.error, 'invalid_grant');
  assert.equal(unknown.body.code, 'oidc.invalid_grant');
  assert.equal(typeof unknown.body.message, 'string');
  assert.match(unknown.body.error_uri, /^https:\/\//);
  const badTarget = await logto.refresh((await logto.signIn({ username: 'carol' })).refresh_token, { resource: 'urn:nope' });
  assert.equal(badTarget.body.code, 'oidc.invalid_target');
});

test('6: PKCE is optional for the confidential client, and verified when sent', async () => {
  const tokens = await logto.signIn({ username: 'bob', usePkce: false });
  assert.ok(tokens.id_token);

  const { code } = await logto.authorize({ username: 'bob' });
  const wrong = await logto.token({
    grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: 'x'.repeat(43),
  });
  assert.equal(wrong.status, 400);
  assert.equal(wrong.body.error, 'invalid_grant');
});

test('6: profile fields appear in the ID token and userinfo when set, and only then', async () => {
  const bob = await logto.signIn({ username: 'bob' });
  const idToken = await logto.verify(bob.id_token);
  const info = (await logto.userinfo(bob.access_token)).body;
  for (const claims of [idToken, info]) {
    assert.equal(claims.given_name, 'Bob');
    assert.equal(claims.family_name, 'Staff');
    assert.equal(claims.nickname, 'bobby');
    assert.equal(claims.locale, 'en-US');
    assert.equal(claims.zoneinfo, 'Europe/Paris');
    assert.equal('middle_name' in claims, false);
    assert.equal('website' in claims, false);
  }
  const carol = await logto.signIn({ username: 'carol' });
  const carolClaims = await logto.verify(carol.id_token);
  assert.equal('given_name' in carolClaims, false);
  assert.equal(carolClaims.name, null, 'name stays a JSON null');
});

test('6: discovery advertises what Logto 1.42 advertises', async () => {
  const { body: discovery } = await logto.json('/oidc/.well-known/openid-configuration');
  assert.equal(discovery.device_authorization_endpoint, `${logto.issuer}/device/auth`);
  assert.ok(discovery.grant_types_supported.includes('urn:ietf:params:oauth:grant-type:device_code'));
  assert.ok(discovery.grant_types_supported.includes('urn:ietf:params:oauth:grant-type:token-exchange'));
  const sample = JSON.parse(await readFile(path.join(HERE, '..', '..', '..', 'shared', 'logto-samples', 'discovery.json'), 'utf8').catch(() => 'null'));
  if (sample) {
    const local = (value) => (typeof value === 'string' ? value.replace('http://127.0.0.1:3001/oidc', logto.issuer) : value);
    for (const [name, value] of Object.entries(sample)) {
      assert.deepEqual(discovery[name], local(value), name);
    }
  }
});

// --- 7. Suspension and deletion ---------------------------------------------------------------

test('7: suspending a user: refresh is invalid_grant, sign-in refused, no back-channel logout', async () => {
  await logto.json('/__dev__/reset', { method: 'POST' });
  const tokens = await logto.signIn({ username: 'bob' });
  const suspended = await logto.json('/__dev__/users/bob00f3n8wzt/suspend', { method: 'POST' });
  assert.equal(suspended.status, 200);
  try {
    const refreshed = await logto.refresh(tokens.refresh_token);
    assert.equal(refreshed.status, 400);
    assert.equal(refreshed.body.error, 'invalid_grant');
    assert.equal(refreshed.body.code, 'oidc.invalid_grant');
    // The same browser: its provider session no longer counts, and the login is refused.
    const again = await logto.authorize({ username: 'bob', browser: tokens.browser });
    assert.equal(again.response.status, 401);
    assert.match(again.response.text_, /suspended/);
    assert.deepEqual((await logto.json('/__dev__/backchannel')).body, []);
  } finally {
    await logto.json('/__dev__/users/bob00f3n8wzt/unsuspend', { method: 'POST' });
  }
  assert.equal((await logto.authorize({ username: 'bob' })).response.status, 303);
});

test('7: deleting a user: refresh is invalid_grant, sign-in refused, no back-channel logout', async () => {
  await rotating.json('/__dev__/reset', { method: 'POST' });
  const tokens = await rotating.signIn({ username: 'carol' });
  assert.equal((await rotating.json('/__dev__/users/carol0p5d1hs/delete', { method: 'POST' })).status, 200);
  const refreshed = await rotating.refresh(tokens.refresh_token);
  assert.equal(refreshed.body.error, 'invalid_grant');
  const again = await rotating.authorize({ username: 'carol' });
  assert.equal(again.response.status, 401);
  assert.deepEqual((await rotating.json('/__dev__/backchannel')).body, []);
  assert.equal((await rotating.json('/__dev__/users/nobody/suspend', { method: 'POST' })).status, 404);
});
