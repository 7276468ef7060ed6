// Organizations as Logto 1.42 has them (issue "Organizations", item 6): organization tokens'
// permissions, grants fixed at sign-in, API tokens and organization roles, the debug
// endpoints that change organizations, and the signed webhooks they send.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import { after, before, beforeEach, test } from 'node:test';

import { decodeJwt, startProvider } from './support.js';

const API = 'http://127.0.0.1:8000/api';
const ACME = 'acme4p9x2k7z';
const GLOBEX = 'globex8m3q5t';
const INITECH = 'initech0w2v6';
const ALICE = 'alice0k7x2qm';
const BOB = 'bob00f3n8wzt';
const CAROL = 'carol0p5d1hs';
const ORG_RESOURCE = 'urn:logto:resource:organizations';
const BASE = 'openid offline_access urn:logto:scope:organizations urn:logto:scope:organization_roles';
const KEY = 'test-signing-key';

let provider; // webhooks to `receiver`, signed with KEY
let quiet; // no webhook URL
let receiver;
let receiverUrl;
const received = [];

before(async () => {
  receiver = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.end();
    });
  });
  await new Promise((resolve) => { receiver.listen(0, '127.0.0.1', resolve); });
  receiverUrl = `http://127.0.0.1:${receiver.address().port}/logto/webhooks/`;
  [provider, quiet] = await Promise.all([
    startProvider({
      DEV_PROVIDER_WEBHOOK_URL: receiverUrl,
      DEV_PROVIDER_WEBHOOK_SIGNING_KEY: KEY,
      DEV_PROVIDER_BACKCHANNEL_LOGOUT_URI: '',
    }),
    startProvider({ DEV_PROVIDER_BACKCHANNEL_LOGOUT_URI: '' }),
  ]);
});

after(async () => {
  await Promise.all([provider?.stop(), quiet?.stop()]);
  receiver?.close();
});

beforeEach(async () => {
  received.length = 0;
  await provider.json('/__dev__/reset', { method: 'POST' });
});

const payload = (jwt) => decodeJwt(jwt).payload;
const events = () => received.map(({ body }) => JSON.parse(body));

async function organizationScope(client, refreshToken, organizationId, extra = {}) {
  const response = await client.refresh(refreshToken, { organization_id: organizationId, ...extra });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return payload(response.body.access_token).scope;
}

test('organization tokens: permissions held there ∩ requested, only with the organizations resource', async () => {
  const alice = await quiet.signIn({ scope: `${BASE} invite:member read:data`, resource: [ORG_RESOURCE] });
  const acme = await quiet.refresh(alice.refresh_token, { organization_id: ACME });
  assert.equal(acme.status, 200, JSON.stringify(acme.body));
  const token = await quiet.verify(acme.body.access_token);
  assert.equal(token.aud, `urn:logto:organization:${ACME}`);
  assert.equal(token.scope, 'invite:member read:data');
  assert.equal(acme.body.scope, 'invite:member read:data');
  assert.equal(acme.body.expires_in, 3600);
  assert.equal(await organizationScope(quiet, alice.refresh_token, GLOBEX), 'read:data');
  // A narrower scope on the refresh narrows the token.
  assert.equal(await organizationScope(quiet, alice.refresh_token, ACME, { scope: 'read:data' }), 'read:data');

  const withoutResource = await quiet.signIn({ scope: `${BASE} invite:member read:data` });
  const none = await quiet.refresh(withoutResource.refresh_token, { organization_id: ACME });
  assert.equal(payload(none.body.access_token).scope, undefined);
  assert.equal(none.body.scope, '');
});

test('a refresh asking a scope the sign-in did not grant is 400 invalid_scope', async () => {
  const alice = await quiet.signIn({ scope: `${BASE} read:data`, resource: [ORG_RESOURCE] });
  const refused = await quiet.refresh(alice.refresh_token, { organization_id: ACME, scope: 'manage:billing' });
  assert.equal(refused.status, 400);
  assert.equal(refused.body.error, 'invalid_scope');
  assert.equal(refused.body.code, 'oidc.invalid_scope');
  assert.equal(await organizationScope(quiet, alice.refresh_token, ACME), 'read:data');
});

test('non-members and unknown organizations: 403 access_denied', async () => {
  const bob = await quiet.signIn({ username: 'bob', scope: `${BASE} read:data`, resource: [ORG_RESOURCE] });
  for (const organizationId of [GLOBEX, INITECH, 'nosuchorg000']) {
    const response = await quiet.refresh(bob.refresh_token, { organization_id: organizationId });
    assert.equal(response.status, 403, organizationId);
    assert.equal(response.body.error, 'access_denied');
  }
});

test('a permission added to a role mid-session appears after the next sign-in only', async () => {
  const scope = `${BASE} invite:member read:data`;
  const bob = await provider.signIn({ username: 'bob', scope, resource: [ORG_RESOURCE] });
  assert.equal(await organizationScope(provider, bob.refresh_token, ACME), 'read:data');

  const added = await provider.json('/__dev__/organization-roles/member/scopes', {
    method: 'POST', body: { scopes: ['invite:member', 'export:data'] },
  });
  assert.equal(added.status, 200, JSON.stringify(added.body));
  assert.deepEqual(added.body.createdScopes, ['export:data']);

  assert.equal(await organizationScope(provider, bob.refresh_token, ACME), 'read:data');
  const again = await provider.signIn({ username: 'bob', scope, resource: [ORG_RESOURCE] });
  assert.equal(await organizationScope(provider, again.refresh_token, ACME), 'invite:member read:data');

  assert.deepEqual(events().map((event) => event.event), [
    'OrganizationScope.Created', 'OrganizationRole.Scopes.Updated',
  ]);
  assert.equal(events()[1].organizationRoleId, 'member');
  assert.deepEqual(events()[1].params, { id: 'member' });
  assert.equal((await provider.json('/__dev__/organization-roles/nope/scopes', {
    method: 'POST', body: { scopes: ['x'] },
  })).status, 404);
});

test('API tokens: organization-level ones carry organization_id; plain ones organization-role scopes too', async () => {
  const alice = await quiet.signIn({ scope: `${BASE} read:profile read:org`, resource: [API] });
  const acme = await quiet.refresh(alice.refresh_token, { organization_id: ACME, resource: API });
  const token = await quiet.verify(acme.body.access_token);
  assert.equal(token.aud, API);
  assert.equal(token.organization_id, ACME);
  assert.equal(token.scope, 'read:profile read:org');
  const plain = await quiet.refresh(alice.refresh_token, { resource: API });
  assert.equal(payload(plain.body.access_token).scope, 'read:profile read:org');
  assert.equal(payload(plain.body.access_token).organization_id, undefined);
});

test('organization changes: tokens, userinfo and webhooks follow, signed with the hook key', async () => {
  const carol = await provider.signIn({ username: 'carol', scope: `${BASE} read:data`, resource: [ORG_RESOURCE] });
  assert.equal((await provider.refresh(carol.refresh_token, { organization_id: INITECH })).status, 403);

  const created = await provider.json('/__dev__/organizations', {
    method: 'POST', body: { name: 'Hooli', description: null },
  });
  assert.equal(created.status, 201);
  assert.match(created.body.id, /^[a-z0-9]{12}$/);
  const hooli = created.body.id;

  const add = await provider.json(`/__dev__/organizations/${INITECH}/users`, {
    method: 'POST', body: { userIds: [CAROL], roles: ['member'] },
  });
  assert.deepEqual(add.body.addedUserIds, [CAROL]);
  // The grant of her sign-in had no read:data (she held it nowhere then).
  const initech = await provider.refresh(carol.refresh_token, { organization_id: INITECH });
  assert.equal(initech.status, 200);
  assert.equal(payload(initech.body.access_token).scope, undefined);
  const info = await provider.userinfo(carol.access_token);
  assert.deepEqual(info.body.organization_data, [{ id: INITECH, name: 'Initech', description: null }]);

  assert.equal((await provider.json(`/__dev__/organizations/${INITECH}`, {
    method: 'PATCH', body: { name: 'Initech Inc' },
  })).status, 200);
  assert.equal((await provider.json(`/__dev__/organizations/${INITECH}/users/${CAROL}/roles`, {
    method: 'PUT', body: { roles: ['admin'] },
  })).status, 200);
  assert.equal((await provider.json(`/__dev__/organizations/${INITECH}/users/${CAROL}`, { method: 'DELETE' })).status, 200);
  assert.equal((await provider.refresh(carol.refresh_token, { organization_id: INITECH })).status, 403);
  assert.equal((await provider.json(`/__dev__/organizations/${hooli}`, { method: 'DELETE' })).status, 200);

  assert.deepEqual(events().map((event) => event.event), [
    'Organization.Created',
    'Organization.Membership.Updated',
    'Organization.Data.Updated',
    // nothing for the role change
    'Organization.Membership.Updated',
    'Organization.Deleted',
  ]);
  const [create, add2, update, remove, remove2] = events();
  assert.deepEqual(create.data.id, hooli);
  assert.equal(create.data.description, null);
  assert.deepEqual({ id: add2.organizationId, added: add2.addedUserIds, removed: add2.removedUserIds },
    { id: INITECH, added: [CAROL], removed: undefined });
  assert.equal(update.data.name, 'Initech Inc');
  assert.equal(update.data.id, INITECH);
  assert.deepEqual(remove.removedUserIds, [CAROL]);
  assert.equal(remove.addedUserIds, undefined);
  assert.deepEqual(remove2.params, { id: hooli });
  assert.equal(remove2.data, undefined);

  for (const { headers, body } of received) {
    assert.equal(headers['logto-signature-sha-256'], createHmac('sha256', KEY).update(body).digest('hex'));
    assert.equal(headers['user-agent'], 'Logto (https://logto.io/)');
    assert.equal(headers['content-type'], 'application/json');
    const keys = Object.keys(JSON.parse(body));
    assert.deepEqual(keys.slice(0, 2), ['event', 'createdAt']);
    assert.equal(keys.at(-1), 'hookId');
  }
  const recorded = (await provider.json('/__dev__/webhooks')).body;
  assert.deepEqual(recorded.map((delivery) => delivery.body), received.map(({ body }) => body));
  assert.ok(recorded.every((delivery) => delivery.status === 200 && delivery.target === receiverUrl));
  await provider.json('/__dev__/reset', { method: 'POST' });
  assert.deepEqual((await provider.json('/__dev__/webhooks')).body, []);
});

test('debug endpoints refuse what Logto would', async () => {
  const expect = async (status, pathname, method, body) => {
    const response = await quiet.json(pathname, { method, body });
    assert.equal(response.status, status, `${method} ${pathname}: ${JSON.stringify(response.body)}`);
  };
  await expect(404, '/__dev__/organizations/nosuchorg000', 'PATCH', { name: 'x' });
  await expect(404, '/__dev__/organizations/nosuchorg000', 'DELETE');
  await expect(400, `/__dev__/organizations/${ACME}`, 'PATCH', { colour: 'red' });
  await expect(400, '/__dev__/organizations', 'POST', { description: 'no name' });
  await expect(409, '/__dev__/organizations', 'POST', { id: ACME, name: 'Acme again' });
  await expect(404, `/__dev__/organizations/${ACME}/users`, 'POST', { userIds: ['nobody'] });
  await expect(400, `/__dev__/organizations/${ACME}/users`, 'POST', { userIds: [] });
  await expect(404, `/__dev__/organizations/${GLOBEX}/users/${BOB}`, 'DELETE');
  await expect(404, `/__dev__/organizations/${GLOBEX}/users/${BOB}/roles`, 'PUT', { roles: ['admin'] });
  await expect(400, '/__dev__/webhooks', 'POST', { data: {} });
  await expect(404, '/__dev__/webhooks', 'POST', { event: 'User.Data.Updated', userId: 'nobody' });
  // Without a webhook URL, events are recorded and not sent.
  const organizations = (await quiet.json('/__dev__/organizations')).body;
  assert.deepEqual(organizations.find((organization) => organization.id === ACME).members, [
    { id: ALICE, roles: ['admin'] }, { id: BOB, roles: ['member'] },
  ]);
  const triggered = await quiet.json('/__dev__/webhooks', {
    method: 'POST', body: { event: 'User.Data.Updated', userId: ALICE },
  });
  assert.equal(triggered.status, 200);
  assert.equal(triggered.body.target, null);
  assert.match(triggered.body.error, /DEV_PROVIDER_WEBHOOK_URL/);
  assert.equal(JSON.parse(triggered.body.body).data.primaryEmail, 'alice@example.com');
});

test('reset-organizations undoes the organization changes, without webhooks', async () => {
  const changes = [
    [`/__dev__/organizations/${ACME}`, 'PATCH', { name: 'Renamed' }],
    [`/__dev__/organizations/${GLOBEX}`, 'DELETE'],
    [`/__dev__/organizations/${INITECH}/users`, 'POST', { userIds: [BOB], roles: ['admin'] }],
    [`/__dev__/organizations/${ACME}/users/${BOB}`, 'DELETE'],
    ['/__dev__/organization-roles/admin/scopes', 'POST', { scopes: ['new:scope'] }],
  ];
  for (const [pathname, method, body] of changes) {
    assert.equal((await quiet.json(pathname, { method, body })).status, 200, pathname);
  }
  const before = (await quiet.json('/__dev__/webhooks')).body.length;
  assert.equal((await quiet.json('/__dev__/reset-organizations', { method: 'POST' })).status, 200);
  assert.equal((await quiet.json('/__dev__/webhooks')).body.length, before);
  const organizations = (await quiet.json('/__dev__/organizations')).body;
  assert.deepEqual(organizations.map(({ id, name, members }) => [id, name, members.map((member) => member.id)]), [
    [ACME, 'Acme', [ALICE, BOB]], [GLOBEX, 'Globex', [ALICE]], [INITECH, 'Initech', []],
  ]);
  const alice = await quiet.signIn({ scope: `${BASE} new:scope invite:member`, resource: [ORG_RESOURCE] });
  assert.equal(await organizationScope(quiet, alice.refresh_token, ACME), 'invite:member');
});

test('suspending or deleting a user sends the webhook Logto sends', async () => {
  try {
    await provider.json(`/__dev__/users/${BOB}/suspend`, { method: 'POST' });
  } finally {
    await provider.json(`/__dev__/users/${BOB}/unsuspend`, { method: 'POST' });
  }
  assert.deepEqual(events().map((event) => [event.event, event.data.id, event.data.isSuspended]), [
    ['User.SuspensionStatus.Updated', BOB, true],
    ['User.SuspensionStatus.Updated', BOB, false],
  ]);
  assert.deepEqual(events()[0].params, { userId: BOB });
});
